package gateway_test

import (
	"net/http"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// An HTTPS ExternalService is reached over HTTP/1.1 (by ALPN, although the host offers h2), with the
// service's SNI, on one kept-alive connection for sequential calls; the access log names the address
// of that connection every time.
func TestHTTPSUpstreamsAreCalledOverKeptAliveHTTP1(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", hello)
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
	c := m.Client(meshtest.Productpage, gw.Addr)
	const n = 4
	for range n {
		if resp, body := get(t, c, "https://www.google.com/", nil); resp.StatusCode != http.StatusOK || body != "hello" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	}
	seen := ext.Requests()
	if len(seen) != n {
		t.Fatalf("upstream saw %d requests, want %d", len(seen), n)
	}
	for i, r := range seen {
		if r.Proto != "HTTP/1.1" || r.TLS == nil || r.TLS.ServerName != "www.google.com" || r.TLS.NegotiatedProtocol == "h2" {
			t.Errorf("request %d reached the host as %s, SNI %v", i, r.Proto, r.TLS)
		}
		if r.RemoteAddr != seen[0].RemoteAddr {
			t.Errorf("request %d came from %s, the first from %s: the connection was not kept alive", i, r.RemoteAddr, seen[0].RemoteAddr)
		}
	}
	for i, line := range waitLog(t, gw, n) {
		if line["upstream_host"] != ext.Addr() || line["upstream_local_address"] != seen[0].RemoteAddr {
			t.Errorf("log line %d: upstream_host %v, upstream_local_address %v; want %s and %s", i, line["upstream_host"], line["upstream_local_address"], ext.Addr(), seen[0].RemoteAddr)
		}
	}
}
