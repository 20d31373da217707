package proxyconfig_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

func plan(t *testing.T) *ir.Plan {
	t.Helper()
	snap, err := file.Load([]string{"../../examples/bookinfo-egress"}, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return translate.Translate(snap).Plan
}

func TestForGatewayKeepsOnlyWhatTargetsIt(t *testing.T) {
	p := plan(t)
	g, err := proxyconfig.ForGateway(p, "cluster2/gloo-mesh-gateways/istio-egressgateway")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Plan.Routes) != 1 || len(g.Plan.Routes[0].Targets) != 1 || g.Plan.Routes[0].Targets[0].Cluster != "cluster2" {
		t.Fatalf("routes %+v, want the one route with only cluster2's target", g.Plan.Routes)
	}
	if len(g.Plan.Services) != 1 || len(g.Plan.Policies) != 1 || len(g.Plan.Workloads) != 0 {
		t.Errorf("services %d, policies %d, workloads %d; want 1, 1, 0", len(g.Plan.Services), len(g.Plan.Policies), len(g.Plan.Workloads))
	}
	again, _ := proxyconfig.ForGateway(plan(t), "cluster2/gloo-mesh-gateways/istio-egressgateway")
	if g.Version == "" || again.Version != g.Version {
		t.Errorf("versions %q and %q: the same input must give the same version", g.Version, again.Version)
	}
	other, _ := proxyconfig.ForGateway(p, "cluster1/gloo-mesh-gateways/istio-egressgateway")
	if other.Version == g.Version {
		t.Error("two gateways' configs have the same version")
	}
}

func TestForGatewayNamesTheGatewaysItKnows(t *testing.T) {
	_, err := proxyconfig.ForGateway(plan(t), "cluster9/x/y")
	if err == nil || !strings.Contains(err.Error(), "cluster1/gloo-mesh-gateways/istio-egressgateway") {
		t.Errorf("error %v should list the known gateways", err)
	}
}

func TestForSidecarKeepsTheRegistryAndGatewayAddresses(t *testing.T) {
	s, err := proxyconfig.ForSidecar(plan(t), "bookinfo", "reviews", map[string]string{
		"cluster1/gloo-mesh-gateways/istio-egressgateway": "127.0.0.1:8443",
		"elsewhere/ns/gw": "127.0.0.9:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Workload.Identity.String() != "spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews" {
		t.Errorf("identity %s", s.Workload.Identity)
	}
	if len(s.GatewayAddresses) != 1 || len(s.Plan.Policies) != 0 || len(s.Plan.Routes) != 1 {
		t.Errorf("addresses %v, policies %d, routes %d", s.GatewayAddresses, len(s.Plan.Policies), len(s.Plan.Routes))
	}
	if _, err := proxyconfig.ForSidecar(plan(t), "bookinfo", "nope", nil); err == nil {
		t.Error("an unknown workload gave no error")
	}
}

func TestLoadRefusesAFileOfTheWrongKind(t *testing.T) {
	if _, err := proxyconfig.LoadGateway(filepath.Join("..", "..", "examples", "bookinfo-egress", "05-workloads.yaml")); err == nil {
		t.Error("a YAML resource file loaded as a gateway config")
	}
}

func TestASidecarConfigRoundTripsThroughItsSharedEncoding(t *testing.T) {
	p := plan(t)
	cut := proxyconfig.NewSidecarCutter(p, map[string]string{"cluster1/gloo-mesh-gateways/istio-egressgateway": "127.0.1.1"})
	pp, err := cut.For("bookinfo", "productpage")
	if err != nil {
		t.Fatal(err)
	}
	rv, _ := cut.For("bookinfo", "reviews")
	if pp.Version == rv.Version {
		t.Error("two workloads' configs have one version")
	}
	b, err := json.Marshal(pp)
	if err != nil {
		t.Fatal(err)
	}
	var back proxyconfig.Sidecar
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if back.Version != pp.Version || back.Workload.Identity != pp.Workload.Identity ||
		len(back.Plan.Services) != len(pp.Plan.Services) || len(back.Plan.Routes) != 1 ||
		back.GatewayAddresses["cluster1/gloo-mesh-gateways/istio-egressgateway"] != "127.0.1.1" {
		t.Errorf("round trip lost something:\n%s", b)
	}
	if d := back.Plan.Compile().Decide(ir.Request{Source: back.Workload.Identity, Host: "www.google.com", Port: 80}); d.Kind != ir.KindRouted {
		t.Errorf("the decoded config decides %s for www.google.com:80, want Routed", d.Kind)
	}
	again, _ := proxyconfig.NewSidecarCutter(plan(t), map[string]string{"cluster1/gloo-mesh-gateways/istio-egressgateway": "127.0.1.1"}).For("bookinfo", "productpage")
	if again.Version != pp.Version {
		t.Error("the same input gave another version")
	}
}
