package sidecar_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/meshtest"
)

// tenants puts the seed scenario's bookinfo namespace in workspace bookinfo, which exports its services
// to workspace web; web imports them; workspace third imports from bookinfo but is not exported to.
// Every workload runs as bookinfo-productpage, the service account the seed's AccessPolicy allows, so
// that only the workspace rules tell them apart.
const tenants = `apiVersion: admin.gloo.solo.io/v2
kind: Workspace
metadata: {name: bookinfo, namespace: gloo-mesh}
spec:
  workloadClusters:
  - name: '*'
    namespaces: [{name: bookinfo}]
---
apiVersion: admin.gloo.solo.io/v2
kind: Workspace
metadata: {name: web, namespace: gloo-mesh}
spec:
  workloadClusters:
  - name: cluster1
    namespaces: [{name: web}]
---
apiVersion: admin.gloo.solo.io/v2
kind: Workspace
metadata: {name: third, namespace: gloo-mesh}
spec:
  workloadClusters:
  - name: cluster1
    namespaces: [{name: third}]
---
apiVersion: admin.gloo.solo.io/v2
kind: WorkspaceSettings
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  exportTo:
  - workspaces: [{name: web}]
---
apiVersion: admin.gloo.solo.io/v2
kind: WorkspaceSettings
metadata: {name: web, namespace: web}
spec:
  importFrom:
  - workspaces: [{name: bookinfo}]
---
apiVersion: admin.gloo.solo.io/v2
kind: WorkspaceSettings
metadata: {name: third, namespace: third}
spec:
  importFrom:
  - workspaces: [{name: bookinfo}]
---
apiVersion: egret.dev/v1alpha1
kind: Workload
metadata: {name: frontend, namespace: web}
spec: {serviceAccount: bookinfo-productpage, cluster: cluster1}
---
apiVersion: egret.dev/v1alpha1
kind: Workload
metadata: {name: snoop, namespace: third}
spec: {serviceAccount: bookinfo-productpage, cluster: cluster1}
`

const (
	webID   = "spiffe://cluster1/ns/web/sa/bookinfo-productpage"
	thirdID = "spiffe://cluster1/ns/third/sa/bookinfo-productpage"
)

// The importing workspace's workload gets through its sidecar and the gateway; the third workspace's is
// refused by its sidecar (502, REGISTRY_ONLY), and when it skips its sidecar and calls the gateway with
// its own certificate, the gateway refuses it too. The external host sees only the importer's request.
func TestWorkspacesThroughSidecarAndGateway(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, tenants), ext, nil)
	addrs := map[string]string{gw1: g.Addr}
	web := startSidecar(t, m, meshtest.SidecarConfig(t, "web", "frontend", addrs, tenants))
	third := startSidecar(t, m, meshtest.SidecarConfig(t, "third", "snoop", addrs, tenants))

	status, body, err := get(t, viaProxy(web.addr), "http://www.google.com/")
	if err != nil || status != 200 || body != "hello" {
		t.Fatalf("importer: %d %q %v, want 200 hello", status, body, err)
	}
	status, body, err = get(t, viaProxy(third.addr), "http://www.google.com/")
	if err != nil || status != http.StatusBadGateway || body != "" {
		t.Fatalf("third workspace through its sidecar: %d %q %v, want 502 with an empty body", status, body, err)
	}
	if l := lines(t, third.log); len(l) != 1 || l[0]["decision"] != "deny" || !strings.Contains(l[0]["reason"].(string), "not shared with workspace third") {
		t.Errorf("third's sidecar log does not say the service is hidden from it: %v", l)
	}

	// The attack: skip the sidecar, present third's own (valid) certificate to the gateway.
	resp, err := m.Client(thirdID, g.Addr).Get("https://www.google.com/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatalf("the gateway served a workspace that cannot see the service")
	}
	gl := lines(t, g.Log)
	if last := gl[len(gl)-1]; last["source_identity"] != thirdID || last["decision"] != "deny" {
		t.Errorf("gateway log for the direct call: %v", last)
	}
	resp, err = m.Client(webID, g.Addr).Get("https://www.google.com/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("importer directly at the gateway: %v %v", resp, err)
	}
	resp.Body.Close()
	if n := len(ext.Requests()); n != 2 {
		t.Errorf("the external host saw %d requests, want the importer's 2", n)
	}
}

// Under ALLOW_ANY a host another workspace routes through the gateway is still refused to a workspace
// that cannot see it: passing it through directly would route around the gateway.
func TestHiddenRoutedHostIsNotPassedThroughUnderAllowAny(t *testing.T) {
	m := meshtest.NewMesh(t)
	cfg := meshtest.SidecarConfig(t, "third", "snoop", nil, tenants)
	cfg.Plan.Outbound = ir.AllowAny
	third := startSidecar(t, m, cfg)
	status, _, err := get(t, viaProxy(third.addr), "http://www.google.com/")
	if err != nil || status != http.StatusBadGateway {
		t.Fatalf("third under ALLOW_ANY: %d %v, want 502", status, err)
	}
	if l := lines(t, third.log); len(l) != 1 || !strings.Contains(l[0]["reason"].(string), "refused, not passed through") {
		t.Errorf("third's sidecar log: %v", l)
	}
}
