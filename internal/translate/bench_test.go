package translate

import (
	"fmt"
	"testing"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// largeSnapshot is the seed's gateways plus n ExternalServices (every tenth routed through the gateways),
// n AccessPolicies (one per service, each allowing one service account) and w Workloads.
func largeSnapshot(n, w int) *api.Snapshot {
	s := seedSnapshot()
	s.ExternalServices, s.AccessPolicies, s.Workloads = nil, nil, nil
	for i := range n {
		ns := fmt.Sprintf("team-%d", i%100)
		es := directService(fmt.Sprintf("svc-%d", i), []string{fmt.Sprintf("svc-%d.example.com", i)}, 443)
		es.Metadata.Namespace = ns
		es.Spec.Ports[0].ClientsideTLS.SNI = fmt.Sprintf("svc-%d.example.com", i)
		if i%10 == 0 {
			es.Spec.Ports[0].Protocol = api.ProtocolHTTPS
			es.Spec.Ports[0].EgressGatewayRoutes = &api.EgressGatewayRoutes{PortMatch: 80, VirtualGatewayRefs: []api.ObjectReference{
				{Name: "istio-egressgateway", Namespace: "bookinfo"},
			}}
		}
		s.ExternalServices = append(s.ExternalServices, es)

		p := allowPolicy(fmt.Sprintf("allow-%d", i), fmt.Sprintf("sa-%d", i%w), []string{"GET"}, []string{"/api*"}, false)
		p.Metadata.Namespace = ns
		p.Spec.ApplyToDestinations[0].Selector = &api.ObjectSelector{Name: es.Metadata.Name, Namespace: ns}
		s.AccessPolicies = append(s.AccessPolicies, p)
	}
	// The seed's VirtualGateway exposes every service.
	s.VirtualGateways[0].Spec.Listeners[0].ExposedExternalServices = nil
	for i := range w {
		s.Workloads = append(s.Workloads, seedWorkload(fmt.Sprintf("wl-%d", i), fmt.Sprintf("sa-%d", i), "cluster1", map[string]string{"app": fmt.Sprintf("wl-%d", i)}))
	}
	return s
}

func BenchmarkTranslate(b *testing.B) {
	s := largeSnapshot(10_000, 1_000)
	b.ReportAllocs()
	for b.Loop() {
		if res := Translate(s); res.Invalid() {
			b.Fatal(res.Problems()[0].Error())
		}
	}
}

// BenchmarkDecide decides against a plan of 10,000 services and 10,000 policies. The service called has
// three policies (its own and two more that select it by name), so the rules of several policies are tried.
func BenchmarkDecide(b *testing.B) {
	s := largeSnapshot(10_000, 1_000)
	for _, extra := range []string{"extra-a", "extra-b"} {
		p := allowPolicy(extra, "someone-else", nil, nil, false)
		p.Metadata.Namespace = "team-70"
		p.Spec.ApplyToDestinations[0].Selector = &api.ObjectSelector{Name: "svc-4170", Namespace: "team-70"}
		s.AccessPolicies = append(s.AccessPolicies, p)
	}
	res := Translate(s)
	if res.Invalid() {
		b.Fatal(res.Problems()[0].Error())
	}
	plan := res.Plan
	caller := ir.NewSpiffeID("cluster1", "bookinfo", "sa-170")
	cases := []struct {
		name  string
		req   ir.Request
		allow bool
	}{
		{name: "routed allowed by the third policy", req: ir.Request{Source: caller, Host: "svc-4170.example.com", Port: 80, Method: "GET", Path: "/api/v1"}, allow: true},
		{name: "routed denied", req: ir.Request{Source: ir.NewSpiffeID("cluster1", "bookinfo", "sa-1"), Host: "svc-4170.example.com", Port: 80, Method: "GET", Path: "/api/v1"}},
		{name: "not in the registry", req: ir.Request{Source: caller, Host: "www.example.org", Port: 443, Opaque: true}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if d := plan.Decide(c.req); d.Allow != c.allow {
				b.Fatalf("unexpected decision %+v", d)
			}
			b.ReportAllocs()
			for b.Loop() {
				plan.Decide(c.req)
			}
		})
	}
}
