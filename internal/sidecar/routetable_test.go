package sidecar_test

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"testing"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// routeTableYAML adds two external services, a.test and b.test (each a local TLS stand-in with its own
// CA), exposed on a second gateway listener (15443); a mesh RouteTable for api.test that splits by path;
// a gateway RouteTable for gwapi.test; and an AccessPolicy that lets only productpage reach b.
func routeTableYAML(caA, caB string) string {
	es := func(name, ca string) string {
		return fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: %s, namespace: bookinfo}
spec:
  hosts: [%s.test]
  ports:
  - name: https
    number: 443
    protocol: HTTPS
    clientsideTls: {caCertificates: %s}
    egressGatewayRoutes:
      virtualGatewayRefs: [{name: routes, namespace: bookinfo}]
---
`, name, name, ca)
	}
	return es("a", caA) + es("b", caB) + `apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata: {name: routes, namespace: bookinfo}
spec:
  workloads: [{selector: {labels: {istio: egressgateway}}}]
  listeners:
  - port: {number: 15443}
    tls: {mode: ISTIO_MUTUAL}
    http: {}
    exposedExternalServices: [{host: "*.test"}]
---
apiVersion: networking.gloo.solo.io/v2
kind: RouteTable
metadata: {name: api, namespace: bookinfo}
spec:
  hosts: [api.test]
  http:
  - name: to-b-by-header
    matchers: [{headers: [{name: x-dest, value: b}]}]
    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: b}}]}
  - name: a
    matchers: [{uri: {prefix: /a}}]
    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: a}, port: {number: 443}}]}
  - name: b
    matchers: [{uri: {prefix: /b}}]
    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: b}, port: {number: 443}}]}
---
apiVersion: networking.gloo.solo.io/v2
kind: RouteTable
metadata: {name: at-gateway, namespace: bookinfo}
spec:
  hosts: [gwapi.test]
  virtualGateways: [{name: routes, namespace: bookinfo}]
  http:
  - name: get
    matchers: [{uri: {exact: /get}}]
    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: a}}]}
---
apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata: {name: b-productpage-only, namespace: bookinfo}
spec:
  applyToDestinations: [{kind: EXTERNAL_SERVICE, selector: {name: b, namespace: bookinfo}}]
  config:
    authzList: [{allowedClients: [{serviceAccountSelector: {name: bookinfo-productpage}}]}]
`
}

const reviewsID = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"

func TestRouteTableSplitsByPathThroughSidecarAndGateway(t *testing.T) {
	m := meshtest.NewMesh(t)
	hello := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s%s", r.Host, r.URL.Path) }
	a, b := meshtest.NewExternal(t, "a.test", hello), meshtest.NewExternal(t, "b.test", hello)
	extra := routeTableYAML(a.CAFile, b.CAFile)
	g := meshtest.StartGateway(t, m, meshtest.GatewayConfig(t, meshtest.GatewayID, extra), nil, func(p *gateway.Params) {
		p.PortOverrides[meshtest.TunnelTargetPort] = 0
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{
			Resolver:  meshtest.StaticResolver{"a.test": netip.MustParseAddr("127.0.0.1"), "b.test": netip.MustParseAddr("127.0.0.1")},
			Overrides: map[string]string{"a.test:443": a.Addr(), "b.test:443": b.Addr()},
		})
	})
	routesAddr := g.GW.Addr(15443)
	addrs := map[string]string{gw1: g.Addr, gw1 + ":15443": routesAddr}
	pp := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", addrs, extra))
	rv := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "reviews", addrs, extra))

	send := func(c *http.Client, method, u string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, u, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		name   string
		client *http.Client
		url    string
		hdr    []string
		status int
		body   string
	}{
		{name: "a path under /a goes to a, which sees its own host", client: viaProxy(pp.addr), url: "http://api.test/a/1", status: 200, body: "hello from a.test/a/1"},
		{name: "a path under /b goes to b", client: viaProxy(pp.addr), url: "http://api.test/b/2", status: 200, body: "hello from b.test/b/2"},
		{name: "a path no route matches is 404", client: viaProxy(pp.addr), url: "http://api.test/c", status: 404},
		{name: "reviews routed to b is still refused by b's policy", client: viaProxy(rv.addr), url: "http://api.test/b/2", status: 403, body: "RBAC: access denied"},
		{name: "reviews may reach a through the table", client: viaProxy(rv.addr), url: "http://api.test/a", status: 200, body: "hello from a.test/a"},
		{name: "a header that selects the route to b does not get reviews past b's policy", client: viaProxy(rv.addr), url: "http://api.test/a", hdr: []string{"X-Dest", "b"}, status: 403, body: "RBAC: access denied"},
		{name: "a gateway table's host is routed at the gateway", client: viaProxy(pp.addr), url: "http://gwapi.test/get", status: 200, body: "hello from a.test/get"},
		{name: "the gateway answers 404 for a path its table does not route", client: viaProxy(pp.addr), url: "http://gwapi.test/post", status: 404},
		// Straight to the gateway with reviews' own certificate: the gateway applies no mesh table, so
		// naming the table's host (with any header) reaches nothing, and naming b is refused by b's policy.
		{name: "reviews asking the gateway for the mesh table's host gets nothing", client: m.Client(reviewsID, routesAddr), url: "https://api.test/b", hdr: []string{"X-Dest", "b"}, status: 404},
		{name: "reviews asking the gateway for b directly is refused", client: m.Client(reviewsID, routesAddr), url: "https://b.test/", status: 403, body: "RBAC: access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(tt.client, http.MethodGet, tt.url, tt.hdr...)
			if status != tt.status || (tt.body != "" && body != tt.body) {
				t.Errorf("got %d %q, want %d %q", status, body, tt.status, tt.body)
			}
		})
	}
	if n := len(b.Requests()); n != 1 {
		t.Errorf("b served %d requests, want only productpage's one", n)
	}
	var routed bool
	for _, l := range lines(t, pp.log) {
		if l["route_name"] == "bookinfo/api route[1] a" {
			routed = true
		}
	}
	if !routed {
		t.Errorf("no sidecar log line names the route table and route:\n%s", pp.log.String())
	}
}
