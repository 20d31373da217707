package e2e

import (
	"egret.dev/egret/internal/meshtest"
	"encoding/json"
	"strings"
	"testing"
)

// ratings2 is a Workload in cluster2, with the product page's service account there.
const ratings2 = `apiVersion: egret.dev/v1alpha1
kind: Workload
metadata:
  name: ratings
  namespace: bookinfo
spec:
  serviceAccount: bookinfo-productpage
  cluster: cluster2
`

// TestEachClusterUsesItsOwnGateway adds a Workload in cluster2 and checks in the gateways' access logs
// that each sidecar's traffic goes out through its own cluster's gateway, with its own cluster's
// identity.
func TestEachClusterUsesItsOwnGateway(t *testing.T) {
	ext := google(t)
	dir := meshtest.CopyExample(t, map[string]string{"06-cluster2.yaml": ratings2})
	p, admin := up(t, dir, ext)
	logs := func() string { return p.out.String() + p.err.String() }
	// Sidecars in namespace/name order: bookinfo/productpage, bookinfo/ratings, bookinfo/reviews.
	pp, ratings := p.nets.SidecarAddr(1), p.nets.SidecarAddr(2)
	if !strings.Contains(p.out.String(), "sidecar bookinfo/ratings") && !waitPrinted(p, "sidecar bookinfo/ratings") {
		t.Fatalf("up did not start the cluster2 workload:\n%s", p.out.String())
	}
	eventually(t, pp, "http://www.google.com/", 200, logs)
	code, body, err := get(viaProxy(ratings), "http://www.google.com/")
	if err != nil || code == 0 {
		t.Fatalf("cluster2 workload: %d %q %v\n%s", code, body, err, tail(logs()))
	}
	t.Logf("cluster2's productpage identity: %d %q", code, body)
	st := allSynced(t, admin, 5)
	for _, px := range st.Proxies {
		if px.Name == "bookinfo/ratings" && (px.Cluster != "cluster2" || !strings.HasPrefix(px.Identity, "spiffe://cluster2/")) {
			t.Errorf("the cluster2 workload is %s in %s", px.Identity, px.Cluster)
		}
	}

	// Every gateway access log line: which gateway (its address) served which identity.
	served := map[string][]string{}
	for _, line := range strings.Split(p.out.String(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || e["component"] != "gateway" {
			continue
		}
		local, _ := e["downstream_local_address"].(string)
		src, _ := e["source_identity"].(string)
		served[src] = append(served[src], local)
	}
	check := func(id, gwIP string) {
		t.Helper()
		if len(served[id]) == 0 {
			t.Errorf("no gateway logged a request from %s; gateway lines: %v", id, served)
		}
		for _, local := range served[id] {
			if !strings.HasPrefix(local, gwIP+":") {
				t.Errorf("%s went through the gateway at %s, want %s", id, local, gwIP)
			}
		}
	}
	check("spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage", p.nets.GatewayIP(1))
	check("spiffe://cluster2/ns/bookinfo/sa/bookinfo-productpage", p.nets.GatewayIP(2))
	p.stop(t)
}

func waitPrinted(p *proc, s string) bool {
	for i := 0; i < 200; i++ {
		if strings.Contains(p.out.String(), s) {
			return true
		}
		sleep()
	}
	return false
}
