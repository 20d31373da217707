package sidecar_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/sidecar"
)

func readiness(t *testing.T, sc *sidecar.Sidecar) int {
	t.Helper()
	rec := httptest.NewRecorder()
	sc.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz/ready", nil))
	return rec.Code
}

// A sidecar whose listener dies returns the error from Serve (so `egret sidecar` exits non-zero) and
// turns not-ready; Close, which stops the listener on purpose, returns nil.
func TestASidecarWhoseListenerDiesSaysSo(t *testing.T) {
	noOrig := func(net.Conn) (netip.AddrPort, error) { return netip.AddrPort{}, errors.New("not redirected") }
	tests := []struct {
		name    string
		serve   func(*sidecar.Sidecar, net.Listener) error
		killed  bool // the listener dies under the sidecar, rather than Close stopping it
		wantErr bool
		ready   int
	}{
		{"explicit proxy, listener killed", (*sidecar.Sidecar).Serve, true, true, http.StatusServiceUnavailable},
		{"transparent, listener killed", func(s *sidecar.Sidecar, ln net.Listener) error { return s.ServeTransparent(ln, noOrig) }, true, true, http.StatusServiceUnavailable},
		{"explicit proxy, closed on purpose", (*sidecar.Sidecar).Serve, false, false, http.StatusServiceUnavailable},
	}
	m := meshtest.NewMesh(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", nil)).sc
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tc.serve(sc, ln) }()
			if s := readiness(t, sc); s != http.StatusOK {
				t.Fatalf("a serving sidecar answers %d to readiness, want 200", s)
			}
			meshtest.WaitFor(t, func() bool { // serving: a connection is accepted
				c, err := net.Dial("tcp", ln.Addr().String())
				if err == nil {
					c.Close()
				}
				return err == nil
			})
			if tc.killed {
				ln.Close()
			} else {
				sc.Close()
			}
			select {
			case err := <-done:
				if (err != nil) != tc.wantErr {
					t.Errorf("serve returned %v, want an error: %v", err, tc.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("serve did not return after its listener stopped")
			}
			if s := readiness(t, sc); s != tc.ready {
				t.Errorf("readiness answers %d, want %d", s, tc.ready)
			}
		})
	}
}
