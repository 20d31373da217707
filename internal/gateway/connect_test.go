package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// StartTunnels runs the gateway with both listeners, the stand-in for *.example.com behind it.
func StartTunnels(t testing.TB, m *meshtest.Mesh) (*meshtest.Gateway, *meshtest.External, string) {
	t.Helper()
	ext := meshtest.NewExternal(t, "*.example.com", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.Host)
	})
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, meshtest.TunnelResources), nil, func(p *gateway.Params) {
		p.PortOverrides[meshtest.TunnelTargetPort] = 0
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{
			"api.example.com:443": ext.Addr(), "www.example.com:443": ext.Addr(),
		}})
	})
	return gw, ext, gw.GW.Addr(15443)
}

// h2Tunnel opens a CONNECT stream to target over HTTP/2 and mTLS, as a sidecar does.
func h2Tunnel(t testing.TB, m *meshtest.Mesh, addr, id, target string) (net.Conn, int) {
	t.Helper()
	cert := m.SVID(id, time.Hour)
	tr := &http2.Transport{TLSClientConfig: &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true,
		VerifyConnection:   func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, m.Pool, meshtest.GatewaySVID) },
	}, DialTLS: func(network, _ string, cfg *tls.Config) (net.Conn, error) {
		return tls.Dial(network, addr, cfg)
	}}
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodConnect, "https://"+target, pr)
	req.Host = target
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pw.Close(); resp.Body.Close(); tr.CloseIdleConnections() })
	return &pipeConn{r: resp.Body, w: pw}, resp.StatusCode
}

type pipeConn struct {
	r io.ReadCloser
	w *io.PipeWriter
}

func (p *pipeConn) Read(b []byte) (int, error)       { return p.r.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error)      { return p.w.Write(b) }
func (p *pipeConn) Close() error                     { p.w.Close(); return p.r.Close() }
func (p *pipeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (p *pipeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (p *pipeConn) SetDeadline(time.Time) error      { return nil }
func (p *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// httpsThrough speaks TLS (verified against the stand-in's CA) and one GET inside a tunnel.
func httpsThrough(t testing.TB, conn net.Conn, ext *meshtest.External, sni string) (string, error) {
	t.Helper()
	pem, _ := os.ReadFile(ext.CAFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tc := tls.Client(conn, &tls.Config{ServerName: sni, RootCAs: roots})
	if err := tc.Handshake(); err != nil {
		return "", err
	}
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", sni)
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

func TestTunnelToAWildcardHostBySNI(t *testing.T) {
	m := meshtest.NewMesh(t)
	gw, ext, addr := StartTunnels(t, m)
	conn, status := h2Tunnel(t, m, addr, meshtest.Productpage, "api.example.com:443")
	if status != http.StatusOK {
		t.Fatalf("CONNECT got %d, want 200", status)
	}
	body, err := httpsThrough(t, conn, ext, "api.example.com")
	if err != nil || body != "hello api.example.com" {
		t.Fatalf("through the tunnel: %q, %v", body, err)
	}
	conn.Close()
	lines := waitLog(t, gw, 1)
	if l := lines[0]; l["decision"] != "allow" || l["requested_server_name"] != "api.example.com" || l["source_identity"] != meshtest.Productpage {
		t.Errorf("tunnel log line: %v", l)
	}
}

func TestTunnelRefusesAnSNIThatIsNotTheConnectHost(t *testing.T) {
	m := meshtest.NewMesh(t)
	gw, ext, addr := StartTunnels(t, m)
	conn, status := h2Tunnel(t, m, addr, meshtest.Productpage, "api.example.com:443")
	if status != http.StatusOK {
		t.Fatalf("CONNECT got %d", status)
	}
	if _, err := httpsThrough(t, conn, ext, "www.google.com"); err == nil {
		t.Fatal("a ClientHello for www.google.com went through a tunnel opened for api.example.com")
	}
	lines := waitLog(t, gw, 1)
	if r, _ := lines[0]["reason"].(string); !strings.Contains(r, "domain fronting") {
		t.Errorf("log reason %q does not name the refusal", r)
	}
	if len(ext.Requests()) != 0 {
		t.Error("the external host saw a request")
	}
}

func TestTunnelOverHTTP1(t *testing.T) {
	m := meshtest.NewMesh(t)
	_, ext, addr := StartTunnels(t, m)
	conn := meshtest.DialTLS(t, m, addr, meshtest.Productpage, "http/1.1")
	fmt.Fprint(conn, "CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	body, err := httpsThrough(t, &bufConn{Conn: conn, r: br}, ext, "www.example.com")
	if err != nil || body != "hello www.example.com" {
		t.Fatalf("through the tunnel: %q, %v", body, err)
	}
}

func TestTunnelsThatMustBeRefused(t *testing.T) {
	m := meshtest.NewMesh(t)
	_, _, addr := StartTunnels(t, m)
	tests := []struct {
		name, id, target string
		want             int
	}{
		{"a host the listener does not expose", meshtest.Productpage, "www.google.com:443", http.StatusNotFound},
		{"a port that is not the portMatch", meshtest.Productpage, "api.example.com:8443", http.StatusNotFound},
		{"a host in no ExternalService", meshtest.Productpage, "evil.org:443", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, status := h2Tunnel(t, m, addr, tc.id, tc.target); status != tc.want {
				t.Errorf("CONNECT %s got %d, want %d", tc.target, status, tc.want)
			}
		})
	}
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func TestShutdownWaitsForHTTP1TunnelsAndClosesThemAtTheDeadline(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "*.example.com", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, meshtest.TunnelResources), nil, func(p *gateway.Params) {
		p.PortOverrides[meshtest.TunnelTargetPort] = 0
		p.DrainTimeout = 500 * time.Millisecond
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{"api.example.com:443": ext.Addr()}})
	})
	conn := meshtest.DialTLS(t, m, gw.GW.Addr(15443), meshtest.Productpage, "http/1.1")
	fmt.Fprint(conn, "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	// The tunnel stays open (the client says nothing); Shutdown must wait for it, then close it.
	err := gw.GW.Shutdown(context.Background())
	if err == nil || !strings.Contains(err.Error(), "closed 1 tunnel(s) still open") {
		t.Errorf("Shutdown: %v, want it to wait for the tunnel and close it at the drain deadline", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("the tunnel was not closed: %v", err)
	}
}
