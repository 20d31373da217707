package sidecar_test

import (
	"net/http"
	"strings"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/meshtest"
)

// An allowed call whose next hop cannot be reached (its gateway, or the host itself on the direct path)
// is logged as allowed, with UF (one upstream tried) or URX (failover over several exhausted): a dead
// upstream must never read as a policy denial.
func TestAnAllowedCallWhoseUpstreamFailsIsLoggedAllow(t *testing.T) {
	m := meshtest.NewMesh(t)
	dead := meshtest.ClosedAddr(t)
	tests := []struct {
		name     string
		gateways map[string]string
		allowAny bool
		url      string
		flag     string
	}{
		{"its one gateway is unreachable", map[string]string{gw1: meshtest.ClosedAddr(t)}, false, "http://www.google.com/", "UF"},
		{"every one of its gateways is unreachable", map[string]string{gw1: meshtest.ClosedAddr(t), gw2: meshtest.ClosedAddr(t)}, false, "http://www.google.com/", "URX"},
		{"a direct host is down", nil, true, "http://" + dead + "/", "UF"},
		{"a direct tunnel's host is down", nil, true, "https://" + dead + "/", "UF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := meshtest.SidecarConfig(t, "bookinfo", "productpage", tc.gateways)
			if tc.allowAny {
				cfg.Plan.Outbound = ir.AllowAny
			}
			sc := startSidecar(t, m, cfg)
			status, _, err := get(t, viaProxy(sc.addr), tc.url)
			if strings.HasPrefix(tc.url, "https") {
				// The proxy refuses the CONNECT with 503; Go's client reports it as an error.
				if err == nil || !strings.Contains(err.Error(), "Service Unavailable") {
					t.Fatalf("CONNECT: %d %v, want a 503 refusal", status, err)
				}
			} else if err != nil || status != http.StatusServiceUnavailable {
				t.Fatalf("got %d %v, want 503", status, err)
			}
			l := lines(t, sc.log)
			if len(l) != 1 {
				t.Fatalf("%d log lines, want 1", len(l))
			}
			if l[0]["decision"] != "allow" || l[0]["response_flags"] != tc.flag || l[0]["response_code"] != 503.0 {
				t.Errorf("logged decision %v flags %v status %v, want allow, %s, 503: %v",
					l[0]["decision"], l[0]["response_flags"], l[0]["response_code"], tc.flag, l[0])
			}
		})
	}
}
