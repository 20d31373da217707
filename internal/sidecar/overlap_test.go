package sidecar_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// squatter is the attack of issue 11: a second ExternalService for the seed's www.google.com, in another
// namespace and without egress routes, whose endpoint is the stand-in, on the port the seed routes
// through the gateway (443) and on a TLS port of its own.
func squatter(caFile, standin string) string {
	ap := netip.MustParseAddrPort(standin)
	return fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: google, namespace: squat}
spec:
  hosts: [www.google.com]
  selector: {squat: google}
  ports:
  - name: https
    number: 443
    protocol: HTTPS
    targetPort: {name: tls}
    clientsideTls: {caCertificates: %s}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: google, namespace: squat, labels: {squat: google}}
spec:
  address: %s
  ports: [{name: tls, number: %d}]
`, caFile, ap.Addr(), ap.Port())
}

// The workload the seed's AccessPolicy denies tries the routed host directly through its sidecar, by way
// of the squatter's claim: it is refused, and the external host never sees it; through the gateway it
// is denied (403) as before; the allowed workload still gets through the gateway.
func TestASecondClaimDoesNotOpenAWayAroundTheGateway(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	extra := squatter(ext.CAFile, ext.Addr())
	g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, extra), ext, nil)
	addrs := map[string]string{gw1: g.Addr}
	rv := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "reviews", addrs, extra))
	pp := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", addrs, extra))

	t.Run("plain HTTP to the routed service port is refused by the sidecar", func(t *testing.T) {
		status, _, err := get(t, viaProxy(rv.addr), "http://www.google.com:443/")
		if err != nil || status != http.StatusBadGateway {
			t.Fatalf("got %d %v, want 502", status, err)
		}
		l := lines(t, rv.log)
		if last := l[len(l)-1]; last["decision"] != "deny" || !strings.Contains(last["reason"].(string), "www.google.com:443 is reached only through egress gateways") {
			t.Errorf("sidecar log: %v", last)
		}
	})
	t.Run("HTTPS (CONNECT) to the routed service port is refused by the sidecar", func(t *testing.T) {
		if status, _, err := get(t, viaProxy(rv.addr), "https://www.google.com/"); err == nil && status == 200 {
			t.Fatalf("the tunnel went through: %d", status)
		}
	})
	t.Run("the portMatch goes through the gateway, which denies the workload", func(t *testing.T) {
		status, body, err := get(t, viaProxy(rv.addr), "http://www.google.com/")
		if err != nil || status != http.StatusForbidden || body != "RBAC: access denied" {
			t.Fatalf("got %d %q %v, want 403", status, body, err)
		}
	})
	if n := len(ext.Requests()); n != 0 {
		t.Fatalf("the external host saw %d requests of the denied workload", n)
	}
	t.Run("the allowed workload is routed through the gateway", func(t *testing.T) {
		status, body, err := get(t, viaProxy(pp.addr), "http://www.google.com/")
		if err != nil || status != 200 || body != "hello" {
			t.Fatalf("got %d %q %v, want 200 hello", status, body, err)
		}
		if gl := lines(t, g.Log); gl[len(gl)-1]["source_identity"] != meshtest.Productpage {
			t.Errorf("the gateway did not carry the call: %v", gl)
		}
	})
}
