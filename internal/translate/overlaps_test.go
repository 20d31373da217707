package translate

import (
	"strings"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/source/file"
)

// The overlaps case, translated, decides as the warnings say: the gateway route wins for every caller.
func TestDecideOverlappingClaims(t *testing.T) {
	snap, err := file.Load([]string{"testdata/overlaps.in.yaml"}, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan := Translate(snap).Plan
	pp := spiffe(t, "spiffe://cluster1/ns/bookinfo/sa/productpage")
	rv := spiffe(t, "spiffe://cluster1/ns/bookinfo/sa/reviews")
	tests := []struct {
		name    string
		req     ir.Request
		kind    ir.Kind
		overlap string
	}{
		{name: "the denied workload is denied on the portMatch, although evil/api claims it directly",
			req: ir.Request{Source: rv, Host: "api.example.com", Port: 80, Method: "GET", Path: "/"}, kind: ir.KindDenied},
		{name: "the allowed workload is routed through the gateway",
			req: ir.Request{Source: pp, Host: "api.example.com", Port: 80, Method: "GET", Path: "/"}, kind: ir.KindRouted},
		{name: "the routed service port is refused, although evil/api and evil/wild claim it directly",
			req: ir.Request{Source: pp, Host: "api.example.com", Port: 443, Opaque: true}, kind: ir.KindNotInRegistry,
			overlap: "ExternalService evil/api also claims api.example.com:443 directly; refused"},
		{name: "ALLOW_ANY does not pass the routed service port through either",
			req: ir.Request{Source: rv, Host: "API.example.com.", Port: 443, Method: "GET", Path: "/"}, kind: ir.KindNotInRegistry},
		{name: "the wildcard still serves the hosts nobody routes",
			req: ir.Request{Source: rv, Host: "www.example.com", Port: 443, Opaque: true}, kind: ir.KindDirect},
		{name: "a port nobody routes stays direct",
			req: ir.Request{Source: rv, Host: "api.example.com", Port: 22, Opaque: true}, kind: ir.KindDirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := plan.Decide(tt.req)
			if d.Kind != tt.kind || !strings.Contains(d.Overlap, tt.overlap) {
				t.Fatalf("got %s %q (overlap %q), want %s (overlap %q)", d.Kind, d.Reason, d.Overlap, tt.kind, tt.overlap)
			}
		})
	}
}
