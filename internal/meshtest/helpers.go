package meshtest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/ca"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// NewMeshAt is a mesh whose CA believes it is at, so its SVIDs may already have expired.
func NewMeshAt(t testing.TB, at time.Time) *Mesh {
	t.Helper()
	c, err := ca.New(ca.Params{DataDir: t.TempDir(), Clock: fixedClock(at)})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Root())
	return &Mesh{T: t, CA: c, Pool: pool}
}

func Ptr[T any](v T) *T { return &v }

// dialTLS opens an mTLS connection to the gateway as id, offering one ALPN protocol.
func DialTLS(t testing.TB, m *Mesh, addr, id, alpn string) *tls.Conn {
	t.Helper()
	cert := m.SVID(id, time.Hour)
	conn, err := tls.Dial("tcp", addr, &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // verified below by SPIFFE ID
		VerifyConnection:   func(cs tls.ConnectionState) error { return VerifySPIFFE(cs, m.Pool, GatewaySVID) },
		NextProtos:         []string{alpn},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedAddr is a loopback address where nothing listens.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func Fetch(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The seed gateway's listeners, as its config names them (VirtualGateway target ports): tests bind
// each to a free loopback port through gateway.Params.PortOverrides and read it back with Addr.
const (
	HTTPTargetPort   = 8443  // the mesh listener of the seed config
	TunnelTargetPort = 15443 // the tunnels listener of TunnelResources
)

// TunnelResources expose *.example.com on a second listener (15443) for TLS the callers originate
// themselves: the gateway sees only the CONNECT host and the ClientHello.
const TunnelResources = `apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata: {name: tunnels, namespace: bookinfo}
spec:
  workloads: [{selector: {labels: {istio: egressgateway}}}]
  listeners:
  - port: {number: 15443}
    tls: {mode: ISTIO_MUTUAL}
    http: {}
    exposedExternalServices: [{host: "*.example.com"}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: example, namespace: bookinfo}
spec:
  hosts: ["*.example.com"]
  ports:
  - name: tls
    number: 443
    protocol: HTTPS
    egressGatewayRoutes:
      portMatch: 443
      virtualGatewayRefs: [{name: tunnels, cluster: cluster1}]
`

// CopyExample copies the example resources (and extra files, by name) into a new directory, for tests
// that edit resources as a user would.
func CopyExample(t testing.TB, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(Example)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(Example, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Edit replaces old by new in a resource file, as an editor saving it would.
func Edit(t testing.TB, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, file)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// GetInParallel is a benchmark's measured loop: c GETs url from every benchmark goroutine, each answer
// must be 200, bodies are read whole. A few warm-up requests run first, untimed, so that the figures are
// of pooled connections, not of handshakes.
func GetInParallel(b *testing.B, c *http.Client, url string) {
	b.Helper()
	Warm(b, c, url)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := getOK(c, url); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Warm sends a few requests, untimed, so that c's connections (and those behind it) are pooled.
func Warm(b *testing.B, c *http.Client, url string) {
	b.Helper()
	for i := 0; i < 10; i++ {
		if err := getOK(c, url); err != nil {
			b.Fatal(err)
		}
	}
}

func getOK(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return err
}
