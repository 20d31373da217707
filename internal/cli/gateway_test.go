package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"egret.dev/egret/internal/meshtest"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGatewayCommandServesTheSeedScenario runs what a user runs: certificates from `egret ca issue`,
// the config from `egret render gateway-config`, and `egret gateway`, with a local HTTPS stand-in for
// www.google.com.
func TestGatewayCommandServesTheSeedScenario(t *testing.T) {
	dir, cfg := gatewayCommandFiles(t)
	upstream, caFile := standIn(t, "www.google.com")
	listen, ready := freePort(t), freePort(t)

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr meshtest.LockedBuffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"gateway", "--config", cfg,
			"--cert", filepath.Join(dir, "gw", "svid.pem"), "--key", filepath.Join(dir, "gw", "key.pem"), "--bundle", filepath.Join(dir, "gw", "bundle.pem"),
			"--port", "8443=" + listen, "--admin", "", "--ready", "127.0.0.1:" + ready,
			"--resolve", "www.google.com:443=" + upstream, "--upstream-ca", caFile, "--access-log-format", "TEXT",
		}, strings.NewReader(""), &stdout, &stderr)
	}()
	waitReady(t, "http://127.0.0.1:"+ready+"/healthz/ready", &stderr)

	status := func(who string) (int, string) {
		c := meshClient(t, filepath.Join(dir, who), "127.0.0.1:"+listen)
		resp, err := c.Get("https://www.google.com/")
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := status("pp"); code != 200 || body != "hello from www.google.com" {
		t.Errorf("productpage: %d %q", code, body)
	}
	if code, body := status("rv"); code != 403 || body != "RBAC: access denied" {
		t.Errorf("reviews: %d %q", code, body)
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("gateway exited %d: %s", code, stderr.String())
	}
	log := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	t.Logf("access log:\n%s", stdout.String())
	if len(log) != 2 || !strings.Contains(log[0], `"GET / HTTP/2.0" 200`) || !strings.Contains(log[1], `"GET / HTTP/2.0" 403 RBAC rbac_access_denied_matched_policy[bookinfo/egress-access-productpage]`) {
		t.Errorf("access log (TEXT):\n%s", stdout.String())
	}
	for _, want := range []string{`"msg":"gateway started"`, `"component":"gateway"`, `"msg":"draining"`, `"msg":"stopped"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr.String())
		}
	}
}

func TestGatewayCommandRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"version": "x"}`), 0o644)
	code, _, errw := run(t, "", "gateway", "--config", bad, "--cert", "a", "--key", "b", "--bundle", "c")
	if code != ExitError || !strings.Contains(errw, "not a gateway config (no gateway.id)") {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
	code, _, errw = run(t, "", "gateway", "--config", filepath.Join("..", "..", "examples", "missing.json"))
	if code != ExitError || !strings.Contains(errw, "missing.json: no such file") {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
	good := filepath.Join(dir, "gw.json")
	run(t, "", "render", "gateway-config", "-f", example, "--gateway", "cluster1/gloo-mesh-gateways/istio-egressgateway", "--out", good)
	code, _, errw = run(t, "", "gateway", "--config", good)
	if code != ExitUsage || !strings.Contains(errw, "name exactly one identity source") {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
}

func meshClient(t *testing.T, certDir, addr string) *http.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "svid.pem"), filepath.Join(certDir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := os.ReadFile(filepath.Join(certDir, "bundle.pem"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots})
				return err
			}},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// standIn is a local HTTPS server for host, with its own CA (returned as a PEM file).
func standIn(t *testing.T, host string) (addr, caFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stand-in CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, caCert, &key.PublicKey, caKey)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s", r.Host) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	return srv.Listener.Addr().String(), caFile
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func waitReady(t *testing.T, url string, logs *meshtest.LockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gateway not ready at %s; its log:\n%s", url, logs.String())
}

// gatewayCommandFiles prepares what a user prepares for `egret gateway`, with egret's own commands: a CA
// (`ca init`), SVIDs for the gateway (dir/gw), productpage (dir/pp) and reviews (dir/rv) from `ca issue`,
// and the gateway's config from `render gateway-config` (cfg).
func gatewayCommandFiles(t *testing.T) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, errw := run(t, "", "ca", "init", "--data-dir", data); code != ExitOK {
		t.Fatal(errw)
	}
	for _, id := range []struct{ name, spiffe string }{
		{"gw", "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"},
		{"pp", "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"},
		{"rv", "spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"},
	} {
		if code, _, errw := run(t, "", "ca", "issue", "--data-dir", data, "--identity", id.spiffe, "--out", filepath.Join(dir, id.name)); code != ExitOK {
			t.Fatalf("ca issue %s: %s", id.name, errw)
		}
	}
	cfg = filepath.Join(dir, "gw.json")
	if code, _, errw := run(t, "", "render", "gateway-config", "-f", example, "--gateway", "cluster1/gloo-mesh-gateways/istio-egressgateway", "--out", cfg); code != ExitOK {
		t.Fatalf("render: %s", errw)
	}
	return dir, cfg
}
