package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counter is a loopback upstream that counts requests and the HTTP versions they came in.
type counter struct {
	hits, h2 atomic.Int64
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.hits.Add(1)
	if r.ProtoMajor == 2 {
		c.h2.Add(1)
	}
	io.WriteString(w, "ok")
}

var resultLine = regexp.MustCompile(`^c=(\d+) requests=(\d+) errors=0 elapsed=\S+ rps=[0-9.]+ p50=\S+ p90=\S+ p99=\S+ max=\S+$`)

func TestLoadgenRunsOneLoadPerConcurrency(t *testing.T) {
	up := &counter{}
	srv := httptest.NewServer(up)
	defer srv.Close()

	code, out, errw := run(t, "", "loadgen", "--url", srv.URL, "--concurrency", "1,4", "--requests", "60")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errw)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two result lines, got %q", out)
	}
	for i, want := range []string{"1", "4"} {
		m := resultLine.FindStringSubmatch(lines[i])
		if m == nil || m[1] != want || m[2] != "60" {
			t.Errorf("line %d = %q, want concurrency %s and 60 requests", i, lines[i], want)
		}
	}
	if up.hits.Load() != 120 || up.h2.Load() != 0 {
		t.Errorf("upstream saw %d requests (%d HTTP/2), want 120 HTTP/1.1", up.hits.Load(), up.h2.Load())
	}
}

func TestLoadgenPrintsAMarkdownTable(t *testing.T) {
	srv := httptest.NewServer(&counter{})
	defer srv.Close()
	code, out, errw := run(t, "", "loadgen", "--url", srv.URL, "--concurrency", "2", "--requests", "20",
		"--watch-pid", strconv.Itoa(os.Getpid()), "-o", "markdown", "--label", "direct")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errw)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "| path | concurrency |") || !strings.HasPrefix(lines[2], "| direct | 2 | 20 | 0 |") {
		t.Fatalf("unexpected table:\n%s", out)
	}
	if strings.Contains(lines[2], "–") {
		t.Errorf("watched process columns are empty: %s", lines[2])
	}
}

func TestLoadgenPrintsTSV(t *testing.T) {
	srv := httptest.NewServer(&counter{})
	defer srv.Close()
	code, out, errw := run(t, "", "loadgen", "--url", srv.URL, "--concurrency", "1,3", "--requests", "12",
		"--watch-pid", strconv.Itoa(os.Getpid()), "-o", "tsv", "--label", "direct")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errw)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "label\tconcurrency\t") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	for i, c := range []string{"1", "3"} {
		cols := strings.Split(lines[i+1], "\t")
		if len(cols) != 15 || cols[0] != "direct" || cols[1] != c || cols[2] != "12" || cols[3] != "0" || cols[14] == "" {
			t.Errorf("row %d = %q", i+1, lines[i+1])
		}
	}
}

func TestLoadgenGoesThroughTheProxy(t *testing.T) {
	up := &counter{}
	upstream := httptest.NewServer(up)
	defer upstream.Close()
	var proxied atomic.Int64
	proxy := httptest.NewServer(forwardProxy(&proxied))
	defer proxy.Close()

	code, out, errw := run(t, "", "loadgen", "--url", upstream.URL, "--proxy", proxy.URL, "--concurrency", "3", "--requests", "30", "-o", "markdown")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errw)
	}
	if proxied.Load() != 30 || up.hits.Load() != 30 {
		t.Errorf("proxy saw %d, upstream %d; want 30 each", proxied.Load(), up.hits.Load())
	}
	if !strings.Contains(out, "| client → proxy → upstream | 3 | 30 | 0 |") {
		t.Errorf("output %q lacks the proxy row", out)
	}
}

// TestLoadgenGoesThroughAnMTLSProxy is the gateway's shape: mutual TLS to the proxy, plain HTTP in it.
func TestLoadgenGoesThroughAnMTLSProxy(t *testing.T) {
	pki := newTestPKI(t)
	up := &counter{}
	upstream := httptest.NewServer(up)
	defer upstream.Close()
	var proxied atomic.Int64
	proxy := httptest.NewUnstartedServer(forwardProxy(&proxied))
	proxy.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	proxy.StartTLS()
	defer proxy.Close()

	code, out, errw := run(t, "", "loadgen", "--url", upstream.URL, "--proxy", proxy.URL, "--concurrency", "4", "--requests", "40",
		"--cacert", pki.caFile, "--cert", pki.clientCert, "--key", pki.clientKey)
	if code != ExitOK || !strings.HasPrefix(out, "c=4 requests=40 errors=0 ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errw)
	}
	if proxied.Load() != 40 || up.hits.Load() != 40 {
		t.Errorf("proxy saw %d, upstream %d; want 40 each", proxied.Load(), up.hits.Load())
	}

	code, _, errw = run(t, "", "loadgen", "--url", upstream.URL, "--proxy", proxy.URL, "--concurrency", "1", "--requests", "3", "--cacert", pki.caFile)
	if code != ExitError || !strings.Contains(errw, "3 of 3 requests failed") || proxied.Load() != 40 {
		t.Errorf("without a client certificate: exit %d, stderr %q, proxy saw %d", code, errw, proxied.Load())
	}
}

// forwardProxy is a minimal forward proxy: it takes absolute-form requests, counts them and replays
// them to their upstream.
func forwardProxy(count *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		count.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}

func TestLoadgenSpeaksMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	up := &counter{}
	srv := httptest.NewUnstartedServer(up)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
	}
	srv.StartTLS()
	defer srv.Close()
	tlsFlags := []string{"--cacert", pki.caFile, "--cert", pki.clientCert, "--key", pki.clientKey}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantH2   bool
		wantErr  string
	}{
		{"HTTP/1.1 with a client certificate", tlsFlags, ExitOK, false, ""},
		{"HTTP/2 with a client certificate", append([]string{"--h2"}, tlsFlags...), ExitOK, true, ""},
		{"no client certificate", []string{"--cacert", pki.caFile}, ExitError, false, "10 of 10 requests failed"},
		{"server not verified without the CA", []string{"--cert", pki.clientCert, "--key", pki.clientKey}, ExitError, false, "certificate signed by unknown authority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, beforeH2 := up.hits.Load(), up.h2.Load()
			args := append([]string{"loadgen", "--url", srv.URL, "--concurrency", "2", "--requests", "10"}, tc.args...)
			code, out, errw := run(t, "", args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.wantCode, out, errw)
			}
			if tc.wantErr != "" {
				if !strings.Contains(errw, tc.wantErr) {
					t.Errorf("stderr %q, want %q", errw, tc.wantErr)
				}
				return
			}
			hits, h2 := up.hits.Load()-before, up.h2.Load()-beforeH2
			if hits != 10 || (tc.wantH2 && h2 != 10) || (!tc.wantH2 && h2 != 0) {
				t.Errorf("server saw %d requests, %d over HTTP/2", hits, h2)
			}
		})
	}
}

// TestLoadgenRefusesNonLoopbackTargets checks that nothing outside 127.0.0.0/8 and ::1 is accepted;
// these addresses are only parsed, never dialled.
func TestLoadgenRefusesNonLoopbackTargets(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"private URL", []string{"--url", "http://10.0.0.1:8080/"}, "--url \"http://10.0.0.1:8080/\": 10.0.0.1 is not a loopback address"},
		{"public IPv6 URL", []string{"--url", "https://[2001:db8::1]/"}, "not a loopback address"},
		{"unspecified URL", []string{"--url", "http://0.0.0.0:80/"}, "not a loopback address"},
		{"remote proxy", []string{"--url", "http://127.0.0.1:1/", "--proxy", "http://192.0.2.1:3128"}, "--proxy \"http://192.0.2.1:3128\": 192.0.2.1 is not a loopback address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errw := run(t, "", append([]string{"loadgen", "--requests", "1"}, tc.args...)...)
			if code != ExitError || out != "" || !strings.Contains(errw, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errw, ExitError, tc.want)
			}
		})
	}
}

func TestLoadgenRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no URL", nil, `required flag(s) "url" not set`},
		{"unknown output", []string{"--url", "http://127.0.0.1:1/", "-o", "json"}, `-o "json": want table, markdown or tsv`},
		{"cert without key", []string{"--url", "http://127.0.0.1:1/", "--cert", "c.pem"}, "--cert and --key go together"},
		{"zero concurrency", []string{"--url", "http://127.0.0.1:1/", "--concurrency", "0"}, "--concurrency values must be at least 1"},
		{"zero duration", []string{"--url", "http://127.0.0.1:1/", "--duration", "0s"}, "--duration must be positive"},
		{"HTTP/2 without TLS", []string{"--url", "http://127.0.0.1:1/", "--h2"}, "--h2 needs an https URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errw := run(t, "", append([]string{"loadgen"}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(errw, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errw, ExitUsage, tc.want)
			}
		})
	}
}

func TestLoadgenReportsAClosedServer(t *testing.T) {
	srv := httptest.NewServer(&counter{})
	url := srv.URL
	srv.Close()
	code, out, errw := run(t, "", "loadgen", "--url", url, "--concurrency", "2", "--requests", "8")
	if code != ExitError || !strings.HasPrefix(out, "c=2 requests=8 errors=8 ") || !strings.Contains(errw, "8 of 8 requests failed") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errw)
	}
}

// testPKI is a throwaway CA with a server certificate for 127.0.0.1 and a client certificate, the
// client's written to files as the command reads them.
type testPKI struct {
	ca                            *x509.Certificate
	caKey                         *ecdsa.PrivateKey
	pool                          *x509.CertPool
	server                        tls.Certificate
	caFile, clientCert, clientKey string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loadgen test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "loadgen test leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	srvDER, srvKey := leaf(2, x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := leaf(3, x509.ExtKeyUsageClientAuth)

	p := testPKI{ca: ca, caKey: caKey, pool: x509.NewCertPool(), server: tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}
	p.pool.AddCert(ca)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER, 0o644)
	p.clientCert = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER, 0o644)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = writePEM(t, dir, "client-key.pem", "PRIVATE KEY", keyDER, 0o600)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// svid issues a server certificate from the PKI's CA whose only name is the SPIFFE ID, as the gateway's.
func (p testPKI) svid(t *testing.T, serial int64, id string) tls.Certificate {
	t.Helper()
	u, err := url.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// hostRecorder is a loopback server that remembers every Host (HTTP/2 :authority) it was sent.
type hostRecorder struct {
	mu    sync.Mutex
	hosts map[string]int
}

func (h *hostRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.hosts == nil {
		h.hosts = map[string]int{}
	}
	h.hosts[r.Proto+" "+r.Host]++
	h.mu.Unlock()
	io.WriteString(w, "ok")
}

func (h *hostRecorder) take() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.hosts
	h.hosts = nil
	return got
}

// TestLoadgenSendsTheGivenHost checks that --host changes what the server is told, not where the
// request goes: the server on the loopback URL receives every request, named www.google.com.
func TestLoadgenSendsTheGivenHost(t *testing.T) {
	pki := newTestPKI(t)
	rec := &hostRecorder{}
	srv := httptest.NewUnstartedServer(rec)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}}
	srv.StartTLS()
	defer srv.Close()

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"HTTP/1.1", []string{"--host", "www.google.com"}, "HTTP/1.1 www.google.com"},
		{"HTTP/2", []string{"--host", "www.google.com", "--h2"}, "HTTP/2.0 www.google.com"},
		{"with a port", []string{"--host", "www.google.com:80", "--h2"}, "HTTP/2.0 www.google.com:80"},
		{"no --host sends the URL's", []string{"--h2"}, "HTTP/2.0 " + srv.Listener.Addr().String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"loadgen", "--url", srv.URL, "--cacert", pki.caFile, "--concurrency", "2", "--requests", "10"}, tc.args...)
			code, out, errw := run(t, "", args...)
			if code != ExitOK {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errw)
			}
			if got := rec.take(); len(got) != 1 || got[tc.want] != 10 {
				t.Errorf("server saw %v, want 10 × %q", got, tc.want)
			}
		})
	}
}

// TestLoadgenVerifiesTheServerBySPIFFEID runs against a server holding an SVID (no host name, so the
// usual check would refuse it) and checks that only the right ID from the right CA is accepted.
func TestLoadgenVerifiesTheServerBySPIFFEID(t *testing.T) {
	const gw = "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"
	pki := newTestPKI(t)
	other := newTestPKI(t)
	up := &counter{}
	srv := httptest.NewUnstartedServer(up)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.svid(t, 10, gw)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
	}
	srv.StartTLS()
	defer srv.Close()
	client := []string{"--cert", pki.clientCert, "--key", pki.clientKey}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"the gateway's ID", []string{"--cacert", pki.caFile, "--server-spiffe-id", gw}, ExitOK, ""},
		{"the gateway's ID over HTTP/2", []string{"--h2", "--cacert", pki.caFile, "--server-spiffe-id", gw}, ExitOK, ""},
		{"without the flag the SVID has no host name", []string{"--cacert", pki.caFile}, ExitError, "doesn't contain any IP SANs"},
		{"another ID", []string{"--cacert", pki.caFile, "--server-spiffe-id", "spiffe://cluster1/ns/bookinfo/sa/reviews"}, ExitError, "server SPIFFE ID is " + gw + ", want spiffe://cluster1/ns/bookinfo/sa/reviews"},
		{"another CA", []string{"--cacert", other.caFile, "--server-spiffe-id", gw}, ExitError, "certificate signed by unknown authority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.hits.Load()
			args := append(append([]string{"loadgen", "--url", srv.URL, "--concurrency", "2", "--requests", "10"}, client...), tc.args...)
			code, out, errw := run(t, "", args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.wantCode, out, errw)
			}
			hits := up.hits.Load() - before
			if tc.wantErr != "" {
				if !strings.Contains(errw, tc.wantErr) || hits != 0 {
					t.Errorf("stderr %q, want %q; server saw %d requests, want 0", errw, tc.wantErr, hits)
				}
				return
			}
			if hits != 10 {
				t.Errorf("server saw %d requests, want 10", hits)
			}
		})
	}
}

func TestLoadgenRejectsBadHostAndSPIFFEFlags(t *testing.T) {
	pki := newTestPKI(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a host with a path", []string{"--host", "www.google.com/x"}, `--host: "www.google.com/x" is not a host or host:port`},
		{"a host with a space", []string{"--host", "www.google.com x"}, "is not a host or host:port"},
		{"a host with a header", []string{"--host", "a\r\nX-Spoof: 1"}, "is not a host or host:port"},
		{"a port only", []string{"--host", ":80"}, "is not a host or host:port"},
		{"an https URL as ID", []string{"--cacert", pki.caFile, "--server-spiffe-id", "https://cluster1/x"}, "--server-spiffe-id: \"https://cluster1/x\" is not a SPIFFE ID"},
		{"an ID without a bundle", []string{"--server-spiffe-id", "spiffe://cluster1/x"}, "--server-spiffe-id needs --cacert"},
		{"an ID over plain HTTP", []string{"--cacert", pki.caFile, "--server-spiffe-id", "spiffe://cluster1/x"}, "--server-spiffe-id needs an https URL or proxy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errw := run(t, "", append([]string{"loadgen", "--url", "http://127.0.0.1:1/", "--requests", "1"}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(errw, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errw, ExitUsage, tc.want)
			}
		})
	}
}
