package gateway_test

import (
	"net/http"
	"slices"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/meshtest"
)

// The gateway remembers decisions per config version: once a new config takes productpage's access
// away, its next request is denied, however many identical requests were allowed (and remembered)
// just before; and a caller the old config denied is not allowed by a remembered answer either.
func TestANewConfigIsNeverAnsweredFromTheOldConfigsDecisions(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", hello)
	base := meshtest.SeedConfig(t)
	gw := meshtest.StartGateway(t, m, base, ext, nil)
	pp, rv := m.Client(meshtest.Productpage, gw.Addr), m.Client(meshtest.Reviews, gw.Addr)
	for range 3 {
		if resp, _ := get(t, pp, "https://www.google.com/", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("productpage got %d before the change, want 200", resp.StatusCode)
		}
		if resp, _ := get(t, rv, "https://www.google.com/", nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("reviews got %d before the change, want 403", resp.StatusCode)
		}
	}
	swapped := *base
	swapped.Version = base.Version + "-swapped"
	swapped.Plan.Policies = slices.Clone(base.Plan.Policies)
	for i := range swapped.Plan.Policies {
		pol := &swapped.Plan.Policies[i]
		pol.Rules = slices.Clone(pol.Rules)
		for j := range pol.Rules {
			pol.Rules[j].Clients = []ir.ClientMatch{{ServiceAccount: "bookinfo-reviews"}}
		}
	}
	if err := gw.GW.Update(&swapped); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, pp, "https://www.google.com/", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("productpage got %d after its access was taken away, want 403", resp.StatusCode)
	}
	if resp, _ := get(t, rv, "https://www.google.com/", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("reviews got %d after it was allowed, want 200", resp.StatusCode)
	}
}
