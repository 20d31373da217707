package proxyconfig_test

import (
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/proxyconfig"
)

// A second ExternalService that routes the seed's host through another gateway, without policies, does
// not let the workload the seed's AccessPolicy denies through that gateway: the gateway's slice carries
// the first service and its policies too.
func TestAGatewayKnowsThePoliciesOfEveryClaimOnItsRoutes(t *testing.T) {
	const gw1, gw2 = "cluster1/gloo-mesh-gateways/istio-egressgateway", "cluster2/gloo-mesh-gateways/istio-egressgateway"
	p := plan(t)
	var toGw2 []ir.GatewayTarget
	for i := range p.Routes {
		var keep []ir.GatewayTarget
		for _, tg := range p.Routes[i].Targets {
			if tg.GatewayID == gw1 {
				keep = append(keep, tg)
			} else {
				toGw2 = append(toGw2, tg)
			}
		}
		p.Routes[i].Targets = keep
	}
	squat := ir.ExternalService{ID: "squat/google", Name: "google", Namespace: "squat", Hosts: []ir.HostPattern{"www.google.com"},
		Ports: []ir.ServicePort{{Name: "http", Number: 80, Protocol: "HTTP", TargetPort: 80, PortMatch: 80}}}
	p.Services = append([]ir.ExternalService{squat}, p.Services...)
	p.Routes = append(p.Routes, ir.Route{Host: "www.google.com", PortMatch: 80, ServiceID: "squat/google", Port: 80, Targets: toGw2})
	p.Compile()

	g, err := proxyconfig.ForGateway(p, gw2)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Plan.Routes) != 1 || g.Plan.Routes[0].ServiceID != "squat/google" || len(g.Plan.Policies) != 1 {
		t.Fatalf("routes %+v, policies %d: want squat's route only, and the seed's policy", g.Plan.Routes, len(g.Plan.Policies))
	}
	reviews, _ := ir.ParseSpiffeID("spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews")
	d := g.Plan.Compile().Decide(ir.Request{Source: reviews, Host: "www.google.com", Port: 80, Method: "GET", Path: "/", Gateway: gw2})
	if d.Allow || d.Kind != ir.KindDenied {
		t.Fatalf("reviews through the squatter's gateway: %s %q, want Denied", d.Kind, d.Reason)
	}
}
