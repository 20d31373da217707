package translate

import (
	"net/http"
	"strings"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/source/file"
)

func routeTablePlan(t *testing.T) *ir.Plan {
	t.Helper()
	snap, err := file.Load([]string{"testdata/routetables.in.yaml"}, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Translate(snap).Plan
}

func TestDecideRouteTables(t *testing.T) {
	plan := routeTablePlan(t)
	const (
		web   = "spiffe://c1/ns/apps/sa/web"
		batch = "spiffe://c1/ns/apps/sa/batch"
		gw    = "c1/gloo-mesh-gateways/istio-egressgateway"
	)
	hdr := func(kv ...string) ir.Headers {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h.Values
	}
	type want struct {
		allow      bool
		kind       ir.Kind
		routeTable string
		service    string
		host       string
		port       uint32
		upstream   string
	}
	tests := []struct {
		name string
		req  ir.Request
		want want
	}{
		{
			name: "an exact path goes to a, rewritten to a's portMatch so its gateway route carries it",
			req:  ir.Request{Source: id(batch), Host: "api.example.com", Port: 80, Method: "GET", Path: "/a"},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/api route[0] a", service: "apps/a", host: "a.example.com", port: 80, upstream: "a.example.com:443"},
		},
		{
			name: "a case-insensitive prefix with a method matches the second matcher",
			req:  ir.Request{Source: id(batch), Host: "api.example.com", Port: 80, Method: "GET", Path: "/a/x?q=1"},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/api route[0] a", service: "apps/a", host: "a.example.com", port: 80, upstream: "a.example.com:443"},
		},
		{
			name: "the method matcher refuses a POST, and nothing else matches: 404",
			req:  ir.Request{Source: id(batch), Host: "api.example.com", Port: 80, Method: "POST", Path: "/a/x"},
			want: want{kind: ir.KindRouteNotFound, routeTable: "apps/api", host: "api.example.com", port: 80},
		},
		{
			name: "a prefix routes web to b, which b's policy allows",
			req:  ir.Request{Source: id(web), Host: "api.example.com", Port: 80, Method: "GET", Path: "/books"},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/api route[2] b", service: "apps/b", host: "b.example.com", port: 80, upstream: "b.example.com:443"},
		},
		{
			name: "a route to b does not let batch past b's policy",
			req:  ir.Request{Source: id(batch), Host: "api.example.com", Port: 80, Method: "GET", Path: "/books"},
			want: want{kind: ir.KindDenied, routeTable: "apps/api route[2] b", service: "apps/b", host: "b.example.com", port: 80},
		},
		{
			name: "a header picks the weighted route: a low pick lands on b (weight 20)",
			req:  ir.Request{Source: id(web), Host: "api.example.com", Port: 80, Method: "GET", Path: "/b", Headers: hdr("X-Canary", "true"), Pick: 119},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/api route[1] canary", service: "apps/b", host: "b.example.com", port: 80, upstream: "b.example.com:443"},
		},
		{
			name: "a high pick lands on a (weight 80)",
			req:  ir.Request{Source: id(web), Host: "api.example.com", Port: 80, Method: "GET", Path: "/b", Headers: hdr("X-Canary", "true"), Pick: 20},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/api route[1] canary", service: "apps/a", host: "a.example.com", port: 80, upstream: "a.example.com:443"},
		},
		{
			name: "a header value that differs does not match the canary route",
			req:  ir.Request{Source: id(web), Host: "api.example.com", Port: 80, Method: "GET", Path: "/b", Headers: hdr("X-Canary", "yes"), Pick: 0},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/api route[2] b", service: "apps/b", host: "b.example.com", port: 80, upstream: "b.example.com:443"},
		},
		{
			name: "a regex path goes to c, a direct service: the sidecar originates TLS to port 443",
			req:  ir.Request{Source: id(batch), Host: "api.example.com", Port: 80, Method: "GET", Path: "/v2/items"},
			want: want{allow: true, kind: ir.KindDirect, routeTable: "apps/api route[3] versioned", service: "apps/c", host: "c.example.com", port: 443, upstream: "c.example.com:443"},
		},
		{
			name: "the regex matches the whole path only",
			req:  ir.Request{Source: id(batch), Host: "api.example.com", Port: 80, Method: "GET", Path: "/x/v2/items"},
			want: want{kind: ir.KindRouteNotFound, routeTable: "apps/api", host: "api.example.com", port: 80},
		},
		{
			name: "an inverted header matcher refuses a request carrying the header",
			req:  ir.Request{Source: id(batch), Host: "api.example.com", Port: 80, Method: "GET", Path: "/v2/items", Headers: hdr("X-Debug", "1")},
			want: want{kind: ir.KindRouteNotFound, routeTable: "apps/api", host: "api.example.com", port: 80},
		},
		{
			name: "a table for labelled workloads applies to web",
			req:  ir.Request{Source: id(web), Host: "internal.example.com", Port: 80, Method: "GET", Path: "/"},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/web-only route[0]", service: "apps/a", host: "a.example.com", port: 80, upstream: "a.example.com:443"},
		},
		{
			name: "and not to batch, for which the host is not in the registry",
			req:  ir.Request{Source: id(batch), Host: "internal.example.com", Port: 80, Method: "GET", Path: "/"},
			want: want{kind: ir.KindNotInRegistry, host: "internal.example.com", port: 80},
		},
		{
			name: "a gateway table's host goes from the sidecar to the table's gateway, undecided",
			req:  ir.Request{Source: id(batch), Host: "gw.example.com", Port: 80, Method: "GET", Path: "/get"},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/at-gateway (routes at the gateway)", host: "gw.example.com", port: 80},
		},
		{
			name: "at the gateway the route picks b and b's policy refuses batch",
			req:  ir.Request{Source: id(batch), Gateway: gw, Host: "gw.example.com", Port: 80, Method: "GET", Path: "/get"},
			want: want{kind: ir.KindDenied, routeTable: "apps/at-gateway route[0] get", service: "apps/b", host: "b.example.com", port: 443},
		},
		{
			name: "at the gateway web is allowed and the gateway dials b itself",
			req:  ir.Request{Source: id(web), Gateway: gw, Host: "gw.example.com", Port: 80, Method: "GET", Path: "/get"},
			want: want{allow: true, kind: ir.KindRouted, routeTable: "apps/at-gateway route[0] get", service: "apps/b", host: "b.example.com", port: 443, upstream: "b.example.com:443"},
		},
		{
			name: "at the gateway an unmatched path is 404",
			req:  ir.Request{Source: id(web), Gateway: gw, Host: "gw.example.com", Port: 80, Method: "GET", Path: "/post"},
			want: want{kind: ir.KindRouteNotFound, routeTable: "apps/at-gateway", host: "gw.example.com", port: 80},
		},
		{
			name: "the gateway does not apply mesh tables: a mesh table's host is just unknown there",
			req:  ir.Request{Source: id(web), Gateway: gw, Host: "api.example.com", Port: 80, Method: "GET", Path: "/a"},
			want: want{kind: ir.KindNotInRegistry, host: "api.example.com", port: 80},
		},
		{
			name: "an opaque stream to a table's host is not routed by it",
			req:  ir.Request{Source: id(web), Host: "api.example.com", Port: 443, Opaque: true},
			want: want{kind: ir.KindNotInRegistry, host: "api.example.com", port: 443},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := plan.Decide(tt.req)
			got := want{allow: d.Allow, kind: d.Kind, routeTable: d.RouteTable, service: d.Service, host: d.Host, port: d.Port}
			if d.Allow {
				got.upstream = d.Upstream
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v\n(reason: %s)", got, tt.want, d.Reason)
			}
			if d.Kind == ir.KindRouteNotFound && !strings.Contains(d.Reason, "none of its routes matches") {
				t.Errorf("reason %q", d.Reason)
			}
		})
	}
}
