// Package meshtest stands up the parts of a mesh that tests need: a CA and SVIDs, HTTPS stand-ins for
// external hosts with their own CA, the seed scenario's configs, and a running gateway.
package meshtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/resolve"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

// Example is the seed scenario's resources, relative to a package directory under internal/.
var Example = "../../examples/bookinfo-egress"

const (
	GatewayID   = "cluster1/gloo-mesh-gateways/istio-egressgateway"
	GatewaySVID = "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"
	Productpage = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"
	Reviews     = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"
)

// mesh is a CA whose SVIDs the gateway trusts, and the clients that hold them.
type Mesh struct {
	T    testing.TB
	CA   *ca.CA
	Pool *x509.CertPool
}

func NewMesh(t testing.TB) *Mesh {
	t.Helper()
	c, err := ca.New(ca.Params{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Root())
	return &Mesh{T: t, CA: c, Pool: pool}
}

// svid issues a certificate for id from a real CSR, as a proxy would obtain it.
func (m *Mesh) SVID(id string, ttl time.Duration) tls.Certificate {
	m.T.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		m.T.Fatal(err)
	}
	sid := spiffeid.RequireFromString(id)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{sid.URL()}}, key)
	if err != nil {
		m.T.Fatal(err)
	}
	s, err := m.CA.SignCSR(csr, sid, ttl)
	if err != nil {
		m.T.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{s.Certificate.Raw}, PrivateKey: key, Leaf: s.Certificate}
}

// ServerTLS is the gateway's listener config: its SVID, and mesh client certificates required.
func (m *Mesh) ServerTLS(id string) *tls.Config {
	// Long enough to stay valid now when the mesh's CA clock is set in the past.
	cert := m.SVID(id, 100*time.Hour)
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    m.Pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// client is a mesh client holding an SVID, speaking HTTP/2 over mTLS to the gateway and verifying the
// gateway's SPIFFE ID, as a sidecar does.
func (m *Mesh) Client(id string, gatewayAddr string) *http.Client {
	cert := m.SVID(id, time.Hour)
	return m.ClientWith(&cert, gatewayAddr, true)
}

func (m *Mesh) ClientWith(cert *tls.Certificate, gatewayAddr string, h2 bool) *http.Client {
	conf := &tls.Config{
		RootCAs:    m.Pool,
		ServerName: "istio-egressgateway.gloo-mesh-gateways",
		// SVIDs carry no DNS name: verify the chain and the SPIFFE ID instead of a host name.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return VerifySPIFFE(cs, m.Pool, GatewaySVID)
		},
	}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{
		TLSClientConfig:   conf,
		ForceAttemptHTTP2: h2,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, gatewayAddr)
		},
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func VerifySPIFFE(cs tls.ConnectionState, roots *x509.CertPool, want string) error {
	if len(cs.PeerCertificates) == 0 {
		return errNoCert
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return err
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
		return errWrongID
	}
	return nil
}

type testErr string

func (e testErr) Error() string { return string(e) }

const (
	errNoCert  = testErr("no server certificate")
	errWrongID = testErr("gateway presented the wrong SPIFFE ID")
)

// external is a local HTTPS server standing in for an external host, with its own CA.
type External struct {
	Srv    *httptest.Server
	CAFile string
	mu     sync.Mutex
	seen   []*http.Request
}

func NewExternal(t testing.TB, host string, h http.HandlerFunc) *External {
	t.Helper()
	return newExternal(t, host, h, true)
}

// NewExternalHTTP1 is NewExternal speaking only HTTP/1.1, as the load harness's upstream does.
func NewExternalHTTP1(t testing.TB, host string, h http.HandlerFunc) *External {
	t.Helper()
	return newExternal(t, host, h, false)
}

func newExternal(t testing.TB, host string, h http.HandlerFunc, h2 bool) *External {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test public CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &External{}
	e.Srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.seen = append(e.seen, r.Clone(context.Background()))
		e.mu.Unlock()
		h(w, r)
	}))
	// Real hosts cap streams per connection (often 100-250) and the gateway's pool then queues or dials
	// more; the stand-in lifts the cap so that benchmarks holding many streams open measure the gateway.
	e.Srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 100000}
	e.Srv.EnableHTTP2 = h2
	e.Srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}
	e.Srv.StartTLS()
	t.Cleanup(e.Srv.Close)
	e.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(e.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// Roots is a pool holding the stand-in's CA, for clients that originate TLS to it themselves.
func (e *External) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(e.CAFile)
	pool.AppendCertsFromPEM(pem)
	return pool
}

func (e *External) Addr() string { return e.Srv.Listener.Addr().String() }

func (e *External) Requests() []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*http.Request(nil), e.seen...)
}

// StaticResolver answers every name with fixed addresses; the test names them, so no guard applies.
type StaticResolver map[string]netip.Addr

func (r StaticResolver) Resolve(_ context.Context, host string, _ resolve.Lookup) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// SeedConfig translates the example and the extra resources, and cuts cluster1's gateway config.
func SeedConfig(t testing.TB, extra ...string) *proxyconfig.Gateway {
	t.Helper()
	return GatewayConfig(t, GatewayID, extra...)
}

// GatewayConfig cuts the config of gateway id from the example and the extra resources.
func GatewayConfig(t testing.TB, id string, extra ...string) *proxyconfig.Gateway {
	t.Helper()
	cfg, err := proxyconfig.ForGateway(Plan(t, extra...), id)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// SidecarConfig cuts the config of the workload namespace/name's sidecar, with gateway addresses.
func SidecarConfig(t testing.TB, namespace, name string, addrs map[string]string, extra ...string) *proxyconfig.Sidecar {
	t.Helper()
	cfg, err := proxyconfig.ForSidecar(Plan(t, extra...), namespace, name, addrs)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Plan translates the example and the extra resources (YAML documents), failing on any invalid one.
func Plan(t testing.TB, extra ...string) *ir.Plan {
	t.Helper()
	paths := []string{Example}
	dir := t.TempDir()
	for i, y := range extra {
		p := filepath.Join(dir, fmt.Sprintf("extra%d.yaml", i))
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	snap, err := file.Load(paths, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := translate.Translate(snap)
	if res.Invalid() {
		t.Fatalf("invalid input: %v", res.Problems())
	}
	return res.Plan
}

// LockedBuffer collects access log lines from concurrent requests.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *LockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a started gateway with its access log.
type Gateway struct {
	GW   *gateway.Gateway
	Addr string
	Log  *LockedBuffer
}

// start runs a gateway for cfg whose listener 8443 binds a free loopback port, and whose upstream for
// www.google.com:443 is the external stand-in.
func StartGateway(t testing.TB, m *Mesh, cfg *proxyconfig.Gateway, ext *External, tune func(*gateway.Params)) *Gateway {
	t.Helper()
	logs := &LockedBuffer{}
	p := gateway.Params{
		Address:       "127.0.0.1",
		PortOverrides: map[uint32]uint32{HTTPTargetPort: 0},
		TLS:           m.ServerTLS(cfg.Gateway.Identity.String()),
		Access:        accesslog.New(logs, accesslog.FormatJSON),
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	up := gateway.UpstreamParams{Resolver: StaticResolver{"www.google.com": netip.MustParseAddr("127.0.0.1")}}
	if ext != nil {
		up.Overrides = map[string]string{"www.google.com:443": ext.Addr()}
		up.ExtraRootsFile = ext.CAFile
	}
	p.Upstream = gateway.NewUpstream(up)
	if tune != nil {
		tune(&p)
	}
	gw, err := gateway.New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Shutdown(context.Background()) })
	return &Gateway{GW: gw, Addr: gw.Addr(8443), Log: logs}
}
