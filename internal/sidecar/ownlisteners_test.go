package sidecar_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/ownlisteners"
)

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// statusPage is an egret status listener: a page on loopback, tracked as egret's own, counting connections.
func statusPage(t *testing.T) (addr string, accepted *atomic.Int32) {
	t.Helper()
	accepted = &atomic.Int32{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = ownlisteners.Default.Track(countingListener{ln, accepted}, "control plane admin")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "proxies: ...") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), accepted
}

// The sidecar's direct path (ALLOW_ANY passthrough, a service without egress routes and its
// ExternalEndpoints) never dials one of egret's own listeners either.
func TestTheSidecarNeverDialsEgretsOwnListeners(t *testing.T) {
	m := meshtest.NewMesh(t)
	addr, accepted := statusPage(t)
	ap := netip.MustParseAddrPort(addr)
	direct := fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: status, namespace: bookinfo}
spec:
  hosts: [status.internal.test]
  selector: {peek: "yes"}
  ports:
  - {name: http, number: 80, protocol: HTTP, targetPort: {name: http}}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: status, namespace: bookinfo, labels: {peek: "yes"}}
spec:
  address: %s
  ports: [{name: http, number: %d}]
`, ap.Addr(), ap.Port())
	cfg := meshtest.SidecarConfig(t, "bookinfo", "productpage", nil, direct)
	cfg.Plan.Outbound = ir.AllowAny
	sc := startSidecar(t, m, cfg)
	unspecified := fmt.Sprintf("0.0.0.0:%d", ap.Port())
	tests := []struct{ name, url, dialled string }{
		{"a service whose ExternalEndpoint is the listener", "http://status.internal.test/", addr},
		{"ALLOW_ANY passthrough to the listener's address", "http://" + addr + "/", addr},
		{"ALLOW_ANY passthrough to the unspecified address on its port", "http://" + unspecified + "/", unspecified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := get(t, viaProxy(sc.addr), tc.url)
			if err != nil || status != http.StatusServiceUnavailable {
				t.Fatalf("got %d %q %v, want 503", status, body, err)
			}
			want := fmt.Sprintf("refused: %s is egret's own control plane admin listener", tc.dialled)
			meshtest.WaitFor(t, func() bool { return strings.Contains(sc.log.String(), want) })
		})
	}
	t.Run("a CONNECT tunnel to the listener", func(t *testing.T) {
		if status, _, err := get(t, viaProxy(sc.addr), "https://"+addr+"/"); err == nil && status == 200 {
			t.Fatalf("the tunnel reached the listener")
		}
	})
	if n := accepted.Load(); n != 0 {
		t.Errorf("egret's listener accepted %d connections", n)
	}
}
