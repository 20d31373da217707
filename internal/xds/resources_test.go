package xds

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

// TestResourcesRoundTrip checks that every proxy of every translate golden case, sent as resources and
// reassembled, gets the config proxyconfig cuts for it: the data plane sees no difference.
func TestResourcesRoundTrip(t *testing.T) {
	cases, _ := filepath.Glob("../translate/testdata/*.in.yaml")
	if len(cases) == 0 {
		t.Fatal("no translate golden cases found")
	}
	opts := cmp.Options{cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(ir.Plan{}, proxyconfig.Sidecar{}),
		cmpopts.IgnoreFields(proxyconfig.Gateway{}, "Version"), cmpopts.IgnoreFields(proxyconfig.Sidecar{}, "Version")}
	// Config data for the round trip only: nothing listens on or dials this address.
	addrs := map[string]string{"cluster1/gloo-mesh-gateways/istio-egressgateway": "egress-gateway.test:8443"}
	for _, c := range cases {
		snap, err := file.Load([]string{c}, file.Options{})
		if err != nil && snap == nil {
			t.Fatalf("%s: %v", c, err)
		}
		plan := translate.Translate(snap).Plan
		t.Run(filepath.Base(c)+" gateways", func(t *testing.T) {
			for _, g := range plan.Gateways {
				want, err := proxyconfig.ForGateway(plan, g.ID)
				if err != nil {
					t.Fatal(err)
				}
				res, err := GatewayResources(plan, g.ID)
				if err != nil {
					t.Fatal(err)
				}
				got, err := assemble(KindGateway, res, "v")
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(want, got.Gateway, opts); d != "" {
					t.Errorf("gateway %s (-cut +reassembled):\n%s", g.ID, d)
				}
			}
		})
		t.Run(filepath.Base(c)+" sidecars", func(t *testing.T) {
			shared, own, err := SidecarResources(plan, addrs)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range plan.Workloads {
				want, err := proxyconfig.ForSidecar(plan, w.Namespace, w.Name, addrs)
				if err != nil {
					t.Fatal(err)
				}
				res := Resources{}
				for typ, m := range shared {
					res[typ] = m
				}
				res.put(TypeWorkload, w.Identity.String(), own[w.Identity.String()])
				got, err := assemble(KindSidecar, res, "v")
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(want, got.Sidecar, opts); d != "" {
					t.Errorf("sidecar %s/%s (-cut +reassembled):\n%s", w.Namespace, w.Name, d)
				}
			}
		})
	}
}
