package e2e

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// TestAHostServedOnlyThroughAnExternalEndpoint is issue 10's scenario: api.partner.test and
// direct.partner.test have no DNS; they exist only as an ExternalEndpoint whose port named "tls" is the
// stand-in's. Through `egret up`, productpage reaches the first through the gateway (TLS originated there)
// and the second on its sidecar's direct path (TLS originated by the sidecar), both on the named port.
func TestAHostServedOnlyThroughAnExternalEndpoint(t *testing.T) {
	ext := google(t)
	partner := meshtest.NewExternal(t, "*.partner.test", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "partner %s tls=%v", r.Host, r.TLS != nil)
	})
	port := netip.MustParseAddrPort(partner.Addr()).Port()
	resources := fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata: {name: partners, namespace: bookinfo}
spec:
  workloads: [{selector: {labels: {istio: egressgateway}}}]
  listeners:
  - port: {number: 15443}
    tls: {mode: ISTIO_MUTUAL}
    http: {}
    exposedExternalServices: [{host: "api.partner.test"}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: api, namespace: bookinfo}
spec:
  hosts: [api.partner.test]
  selector: {partner: stand-in}
  ports:
  - name: https
    number: 443
    protocol: HTTPS
    targetPort: {name: tls}
    clientsideTls: {caCertificates: %[1]s}
    egressGatewayRoutes:
      portMatch: 80
      virtualGatewayRefs: [{name: partners, cluster: cluster1}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: direct, namespace: bookinfo}
spec:
  hosts: [direct.partner.test]
  selector: {partner: stand-in}
  ports:
  - name: http
    number: 80
    protocol: HTTP
    targetPort: {name: tls}
    clientsideTls: {caCertificates: %[1]s}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: stand-in, namespace: bookinfo, labels: {partner: stand-in}}
spec:
  address: 127.0.0.1
  ports: [{name: http, number: 9}, {name: tls, number: %[2]d}]
`, partner.CAFile, port)
	dir := meshtest.CopyExample(t, map[string]string{"10-partner.yaml": resources})
	p, _ := up(t, dir, ext)
	logs := func() string { return p.out.String() + p.err.String() }
	pp := p.nets.SidecarAddr(1)

	eventually(t, pp, "http://api.partner.test/", 200, logs)
	if code, body, err := get(viaProxy(pp), "http://api.partner.test/"); err != nil || body != "partner api.partner.test tls=true" {
		t.Fatalf("through the gateway: %d %q %v", code, body, err)
	}
	eventually(t, pp, "http://direct.partner.test/", 200, logs)
	if code, body, err := get(viaProxy(pp), "http://direct.partner.test/"); err != nil || body != "partner direct.partner.test tls=true" {
		t.Fatalf("on the direct path: %d %q %v", code, body, err)
	}
	p.stop(t)
}
