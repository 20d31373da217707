package gateway_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// listeners records the listeners a gateway opens, so a test can kill one under it.
type listeners struct {
	mu  sync.Mutex
	all []net.Listener
}

func (l *listeners) listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err == nil {
		l.mu.Lock()
		l.all = append(l.all, ln)
		l.mu.Unlock()
	}
	return ln, err
}

func readyStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A gateway whose listener dies must say so: it turns not-ready and reports the error, so its process
// exits non-zero instead of reporting ready while callers of that port get nothing.
func TestAGatewayWhoseListenerDiesIsNotReady(t *testing.T) {
	m := meshtest.NewMesh(t)
	var lns listeners
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), nil, func(p *gateway.Params) { p.Listen = lns.listen })
	ready := httptest.NewServer(gw.GW.ReadyHandler())
	defer ready.Close()
	if s := readyStatus(t, ready.URL); s != http.StatusOK {
		t.Fatalf("a started gateway answers %d to readiness, want 200", s)
	}

	lns.mu.Lock()
	lns.all[0].Close()
	lns.mu.Unlock()

	select {
	case err := <-gw.GW.Failed():
		if !strings.Contains(err.Error(), "listener 8443") {
			t.Errorf("error %q does not name the listener", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not report its dead listener")
	}
	if gw.GW.Ready() {
		t.Error("a gateway with a dead listener reports ready")
	}
	if s := readyStatus(t, ready.URL); s != http.StatusServiceUnavailable {
		t.Errorf("readiness answers %d with a dead listener, want 503", s)
	}
}

func TestAGatewayShutDownOnPurposeReportsNoFailure(t *testing.T) {
	m := meshtest.NewMesh(t)
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, meshtest.TunnelResources), nil, func(p *gateway.Params) { p.PortOverrides[meshtest.TunnelTargetPort] = 0 })
	// A config without the second listener drains it: that is not a failure either.
	if err := gw.GW.Update(meshtest.SeedConfig(t)); err != nil {
		t.Fatal(err)
	}
	if err := gw.GW.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-gw.GW.Failed():
		t.Errorf("a listener stopped on purpose was reported as failed: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}
