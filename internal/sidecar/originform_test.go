package sidecar_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
)

// An explicit-mode sidecar takes origin-form requests too: the Host header names the destination, as
// for Envoy's sidecar, and the decision is the same as for the absolute-form request to that host.
func TestOriginFormRequestsAreRoutedByTheirHost(t *testing.T) {
	m := meshtest.NewMesh(t)
	pp, g, ext := seed(t, m, "productpage")
	rv := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "reviews", map[string]string{gw1: g.Addr}))
	direct := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range []struct {
		name, sidecar, host string
		status              int
		body                string
	}{
		{"an allowed workload reaches the host through the gateway", pp.addr, "www.google.com", 200, "hello from www.google.com"},
		{"the Host header's port 80 is the same destination", pp.addr, "www.google.com:80", 200, "hello from www.google.com"},
		{"the policy still denies a workload it does not allow", rv.addr, "www.google.com", 403, "RBAC: access denied"},
		{"a host outside the registry is blocked as Istio does", pp.addr, "www.example.org", 502, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+tc.sidecar+"/hello", nil)
			req.Host = tc.host
			resp, err := direct.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || string(b) != tc.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}
	if got := ext.Requests(); len(got) != 2 || got[0].URL.Path != "/hello" {
		t.Errorf("the external host saw %d requests, want the 2 allowed ones for /hello", len(got))
	}
	var authorities []string
	for _, l := range lines(t, pp.log) {
		authorities = append(authorities, l["authority"].(string))
	}
	if strings.Join(authorities, ",") != "www.google.com,www.google.com:80,www.example.org" {
		t.Errorf("the sidecar logged authorities %v", authorities)
	}

	t.Run("a request with no Host header at all is refused with 400", func(t *testing.T) {
		c, err := net.Dial("tcp", pp.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
}
