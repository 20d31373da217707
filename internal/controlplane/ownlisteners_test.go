package controlplane

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// The attack of issue 11: a workload read the control plane's status page through the gateway, by way
// of a service declared on its loopback address. The gateway now refuses to dial the control plane's
// admin (status) and TLS (enrollment, config) listeners.
func TestTheGatewayDoesNotServeTheControlPlanesListeners(t *testing.T) {
	cp := startCP(t, meshtest.CopyExample(t, nil))
	if resp, err := http.Get("http://" + cp.AdminAddr() + "/"); err != nil {
		t.Fatalf("the status page is not up: %v", err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	m := meshtest.NewMesh(t)
	tests := []struct{ name, target, what string }{
		{"the status page (admin)", cp.AdminAddr(), "control plane admin"},
		{"the enrollment and config listener", cp.Addr(), "control plane"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, meshtest.PointedAt(tc.target, true)), nil, nil)
			resp, err := m.Client(meshtest.Productpage, gw.Addr).Get("https://www.google.com:8080/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || len(body) != 0 {
				t.Fatalf("got %d %q, want 503 with an empty body", resp.StatusCode, body)
			}
			want := fmt.Sprintf("refused: %s is egret's own %s listener", tc.target, tc.what)
			meshtest.WaitFor(t, func() bool { return strings.Contains(gw.Log.String(), want) })
		})
	}
}
