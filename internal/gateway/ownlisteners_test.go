package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/ownlisteners"
)

// countingListener counts the connections it accepts.
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

// A workload the policies allow asks the gateway for a service an attacker declared on one of egret's
// own listeners: the gateway refuses to dial it (503, and a log line saying whose listener it is), and
// the listener never sees a connection.
func TestTheGatewayNeverDialsEgretsOwnListeners(t *testing.T) {
	m := meshtest.NewMesh(t)
	tests := []struct {
		name string
		// target is egret's listener, what the refusal names it, and how many connections it may accept
		// (the workload's own connection, when the target is the listener the workload calls).
		target func(t *testing.T, gw *meshtest.Gateway, own *atomic.Int32) (addr, what string, accepts int32)
	}{
		{name: "the gateway's own mTLS listener", target: func(t *testing.T, gw *meshtest.Gateway, own *atomic.Int32) (string, string, int32) {
			return gw.Addr, "gateway 8443", 1
		}},
		{name: "a gateway's admin port", target: func(t *testing.T, gw *meshtest.Gateway, _ *atomic.Int32) (string, string, int32) {
			var n atomic.Int32
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln = ownlisteners.Default.Track(countingListener{ln, &n}, "admin")
			srv := &http.Server{Handler: gw.GW.AdminHandler()}
			go srv.Serve(ln)
			t.Cleanup(func() {
				srv.Close()
				if n.Load() != 0 {
					t.Errorf("the admin listener accepted %d connections", n.Load())
				}
			})
			return ln.Addr().String(), "admin", 0
		}},
	}
	for _, tc := range tests {
		for _, byEndpoint := range []bool{true, false} {
			how := map[bool]string{true: "declared as an ExternalEndpoint", false: "reached by the host's DNS answer"}[byEndpoint]
			t.Run(tc.name+", "+how, func(t *testing.T) {
				var accepts atomic.Int32
				gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), nil, func(p *gateway.Params) {
					p.Listen = func(network, addr string) (net.Listener, error) {
						ln, err := net.Listen(network, addr)
						return countingListener{ln, &accepts}, err
					}
				})
				target, what, allowed := tc.target(t, gw, &accepts)
				if err := gw.GW.Update(meshtest.SeedConfig(t, meshtest.PointedAt(target, byEndpoint))); err != nil {
					t.Fatal(err)
				}
				resp, _ := get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com:8080/healthz/ready", nil)
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("got %d, want 503", resp.StatusCode)
				}
				line := waitLog(t, gw, 1)[0]
				want := fmt.Sprintf("refused: %s is egret's own %s listener", target, what)
				if r, _ := line["reason"].(string); !strings.Contains(r, want) {
					t.Errorf("log reason %q, want it to say %q", r, want)
				}
				if tc.name == "the gateway's own mTLS listener" && accepts.Load() != allowed {
					t.Errorf("the gateway's listener accepted %d connections, want only the workload's %d", accepts.Load(), allowed)
				}
			})
		}
	}
}

// A resolve override is an operator's flag, but it does not make egret's own listener dialable either.
func TestAResolveOverrideToAnOwnListenerIsRefused(t *testing.T) {
	m := meshtest.NewMesh(t)
	var cpStatus string
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), nil, func(p *gateway.Params) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln = ownlisteners.Default.Track(ln, "control plane admin")
		t.Cleanup(func() { ln.Close() })
		cpStatus = ln.Addr().String()
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{"www.google.com:443": cpStatus}})
	})
	resp, _ := get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com/", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", resp.StatusCode)
	}
	if r, _ := waitLog(t, gw, 1)[0]["reason"].(string); !strings.Contains(r, "refused: "+cpStatus+" is egret's own control plane admin listener") {
		t.Errorf("log reason %q", r)
	}
}
