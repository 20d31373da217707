package sidecar_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/sidecar"
)

// A generous bound on any one call while a gateway is dying: before, such calls took 10-40 s (a dial
// timeout of 10 s, a silent pooled connection noticed after 30 s + 10 s) or hung for good (a gateway
// that accepts connections and never answers the TLS handshake). Timings are measured and logged; only
// this bound is asserted.
const callBound = 5 * time.Second

const testConnectTimeout = 300 * time.Millisecond

func withConnectTimeout(p *sidecar.Params) { p.ConnectTimeout = testConnectTimeout }

// timedCall sends one request through the sidecar and returns its status and how long it took.
func timedCall(t *testing.T, c *http.Client, method, url, body string) (int, time.Duration) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	start := time.Now()
	resp, err := c.Do(req)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: %v after %v", method, url, err, took)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, took
}

// logLines are the sidecar's own log lines whose msg is msg.
func logLines(t *testing.T, b *meshtest.LockedBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range lines(t, b) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// twoGateways runs cluster1's gateway behind a relay the test can kill or freeze, and cluster2's.
func twoGateways(t *testing.T, m *meshtest.Mesh, h http.HandlerFunc) (*relay, *meshtest.Gateway, *meshtest.External, *runningSidecar) {
	ext := meshtest.NewExternal(t, "www.google.com", h)
	g1 := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
	g2 := meshtest.StartGateway(t, m, meshtest.GatewayConfig(t, gw2), ext, nil)
	r1 := newRelay(t, g1.Addr)
	sc := startSidecarWith(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", map[string]string{gw1: r1.addr, gw2: g2.Addr}), withConnectTimeout)
	return r1, g2, ext, sc
}

func TestADeadGatewayIsEjectedAndCallsStayFast(t *testing.T) {
	tests := []struct {
		name string
		die  func(*relay)
	}{
		{"killed: its connections close and connects are refused", (*relay).kill},
		{"frozen: its pooled connection goes silent and new ones never finish TLS", (*relay).freeze},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := meshtest.NewMesh(t)
			r1, _, _, sc := twoGateways(t, m, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
			c := viaProxy(sc.addr)
			if status, _ := timedCall(t, c, "GET", "http://www.google.com/", ""); status != 200 {
				t.Fatalf("before: %d", status)
			}
			if l := lines(t, sc.log); l[0]["upstream_cluster"] != gw1 {
				t.Fatalf("the first call went to %v, want its own cluster's gateway %s", l[0]["upstream_cluster"], gw1)
			}

			tc.die(r1)
			var worst time.Duration
			for i := 0; i < 12; i++ {
				status, took := timedCall(t, c, "GET", "http://www.google.com/", "")
				worst = max(worst, took)
				if status != 200 || took > callBound {
					t.Fatalf("call %d after the gateway died: %d in %v, want 200 within %v", i, status, took, callBound)
				}
			}
			// Once ejected, the dead gateway is not tried first: a POST (never retried once sent) goes
			// straight to the live one.
			if status, took := timedCall(t, c, "POST", "http://www.google.com/", "order=1"); status != 200 || took > callBound {
				t.Fatalf("POST after the ejection: %d in %v", status, took)
			}
			t.Logf("slowest call while the gateway was dead: %v (connect timeout %v)", worst, testConnectTimeout)
			ej := logLines(t, sc.slog, "gateway ejected")
			if len(ej) != 1 || ej[0]["gateway"] != gw1 || ej[0]["address"] != r1.addr {
				t.Fatalf("want one 'gateway ejected' line for %s, got %v", gw1, ej)
			}

			r1.revive()
			deadline := time.Now().Add(20 * time.Second)
			for {
				if status, _ := timedCall(t, c, "GET", "http://www.google.com/", ""); status != 200 {
					t.Fatalf("after the gateway came back: %d", status)
				}
				l := lines(t, sc.log)
				if l[len(l)-1]["upstream_cluster"] == gw1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the gateway came back but calls never returned to it")
				}
				time.Sleep(100 * time.Millisecond)
			}
			if back := logLines(t, sc.slog, "gateway back in service"); len(back) != 1 || back[0]["gateway"] != gw1 {
				t.Errorf("want one 'gateway back in service' line for %s, got %v", gw1, back)
			}
			noDuplicateKeys(t, sc.slog, sc.log)
		})
	}
}

func TestWithItsOneGatewayDownACallGets503UFWithinTheConnectTimeout(t *testing.T) {
	tests := []struct {
		name   string
		pooled bool // a call went through before the gateway died
		die    func(*relay)
		bound  time.Duration
	}{
		{"connects are refused", false, (*relay).kill, testConnectTimeout + 2*time.Second},
		{"it accepts TCP and never answers TLS", false, (*relay).freeze, testConnectTimeout + 2*time.Second},
		// A silent connection is noticed by a ping after a second without frames, answered or not within
		// the connect timeout.
		{"its pooled connection goes silent", true, (*relay).freeze, callBound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := meshtest.NewMesh(t)
			ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
			g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
			r := newRelay(t, g.Addr)
			sc := startSidecarWith(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", map[string]string{gw1: r.addr}), withConnectTimeout)
			c := viaProxy(sc.addr)
			if tc.pooled {
				if status, _ := timedCall(t, c, "GET", "http://www.google.com/", ""); status != 200 {
					t.Fatalf("before: %d", status)
				}
			}
			tc.die(r)
			for i := 0; i < 3; i++ {
				status, took := timedCall(t, c, "GET", "http://www.google.com/", "")
				t.Logf("call %d: %d in %v (connect timeout %v)", i, status, took, testConnectTimeout)
				if status != http.StatusServiceUnavailable || took > tc.bound {
					t.Fatalf("call %d: %d in %v, want 503 within %v", i, status, took, tc.bound)
				}
			}
			l := lines(t, sc.log)
			last := l[len(l)-1]
			if last["response_flags"] != "UF" || last["decision"] != "allow" {
				t.Errorf("logged %v %v, want UF and allow", last["response_flags"], last["decision"])
			}
			noDuplicateKeys(t, sc.slog, sc.log)
		})
	}
}

// A request the dead gateway may already have passed on is sent again elsewhere only if it is
// idempotent and none of its body was read: a POST reaches the host at most once.
func TestACallTheDeadGatewayMayHaveSentIsRetriedOnlyIfIdempotent(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		body       string
		wantStatus int
		wantSeen   int
	}{
		{"a POST with a body is not sent again", "POST", "order=1", http.StatusServiceUnavailable, 1},
		{"a POST without a body is not sent again", "POST", "", http.StatusServiceUnavailable, 1},
		{"a GET is retried once on the other gateway", "GET", "", http.StatusOK, 2},
		{"a DELETE is retried once on the other gateway", "DELETE", "", http.StatusOK, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := meshtest.NewMesh(t)
			var mu sync.Mutex
			seen := 0
			arrived, release := make(chan struct{}), make(chan struct{})
			r1, _, _, sc := twoGateways(t, m, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen++
				n := seen
				mu.Unlock()
				if n == 1 { // the first arrival waits: its gateway dies meanwhile
					close(arrived)
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
				io.WriteString(w, "done")
			})
			defer close(release)
			c := viaProxy(sc.addr)
			type result struct {
				status int
				took   time.Duration
			}
			done := make(chan result, 1)
			go func() {
				status, took := timedCall(t, c, tc.method, "http://www.google.com/orders", tc.body)
				done <- result{status, took}
			}()
			select {
			case <-arrived:
			case <-time.After(callBound):
				t.Fatal("the request never reached the host")
			}
			r1.kill() // the gateway dies with the request in flight
			res := <-done
			time.Sleep(200 * time.Millisecond) // a wrongful second send would have arrived by now
			mu.Lock()
			got := seen
			mu.Unlock()
			if res.status != tc.wantStatus || got != tc.wantSeen {
				t.Fatalf("%d, the host saw it %d times; want %d and %d", res.status, got, tc.wantStatus, tc.wantSeen)
			}
			if res.took > callBound {
				t.Errorf("took %v", res.took)
			}
		})
	}
}
