package gateway_test

import (
	"net/http"
	"testing"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// An allowed call whose external host cannot be reached is still an allowed call: the log says allow,
// with the upstream failure in the response flags, so a failing upstream never reads as a policy denial.
func TestAnAllowedCallToADeadUpstreamIsLoggedAllowWithUF(t *testing.T) {
	m := meshtest.NewMesh(t)
	dead := meshtest.ClosedAddr(t)
	tests := []struct {
		name string
		call func(t *testing.T, gw *meshtest.Gateway) int
	}{
		{"an HTTP request the gateway forwards", func(t *testing.T, gw *meshtest.Gateway) int {
			resp, _ := get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com/", nil)
			return resp.StatusCode
		}},
		{"a CONNECT tunnel", func(t *testing.T, gw *meshtest.Gateway) int {
			_, status := h2Tunnel(t, m, gw.GW.Addr(15443), meshtest.Productpage, "api.example.com:443")
			return status
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, meshtest.TunnelResources), nil, func(p *gateway.Params) {
				p.PortOverrides[meshtest.TunnelTargetPort] = 0
				p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{
					"www.google.com:443": dead, "api.example.com:443": dead,
				}})
			})
			if status := tc.call(t, gw); status != http.StatusServiceUnavailable {
				t.Fatalf("got %d, want 503", status)
			}
			line := waitLog(t, gw, 1)[0]
			if line["decision"] != "allow" || line["response_flags"] != "UF" || line["response_code"] != 503.0 {
				t.Errorf("logged decision %v flags %v status %v, want allow, UF, 503: %v",
					line["decision"], line["response_flags"], line["response_code"], line)
			}
		})
	}
}
