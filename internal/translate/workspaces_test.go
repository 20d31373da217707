package translate

import (
	"strings"
	"testing"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/source/file"
)

const (
	appClient = "spiffe://cluster1/ns/app/sa/client"
	frontend  = "spiffe://cluster1/ns/web-frontend/sa/frontend"
	snoop     = "spiffe://cluster1/ns/third/sa/snoop"
	peek      = "spiffe://cluster1/ns/nosy/sa/peek"
	wanderer  = "spiffe://cluster1/ns/lost/sa/wanderer"
)

func workspacesSnapshot(t *testing.T, extra ...string) *api.Snapshot {
	t.Helper()
	snap, err := file.Load([]string{"testdata/workspaces.in.yaml"}, file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, y := range extra {
		objs, ps := api.Decode("extra.yaml", []byte(y))
		if len(ps) > 0 {
			t.Fatalf("extra %d: %v", i, ps)
		}
		for _, o := range objs {
			snap.Add(o)
		}
	}
	return snap
}

func TestWorkspaceVisibilityDecides(t *testing.T) {
	tests := []struct {
		name       string
		outbound   ir.OutboundMode
		req        ir.Request
		kind       ir.Kind
		workspace  string
		visibility string // prefix
	}{
		{
			name: "the owner's workload is routed through the gateway",
			req:  ir.Request{Source: id(appClient), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindRouted, workspace: "app", visibility: "visible: service in workspace app, the caller's",
		},
		{
			name: "a workspace that imports what the owner exports to it sees the service",
			req:  ir.Request{Source: id(frontend), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindRouted, workspace: "web",
			visibility: "visible: service in workspace app, imported by workspace web via WorkspaceSettings web-frontend/web-settings (exported by WorkspaceSettings app/app-settings)",
		},
		{
			name: "import without export hides the service: 502 under REGISTRY_ONLY even though a policy names the caller",
			req:  ir.Request{Source: id(snoop), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindNotInRegistry, workspace: "third",
			visibility: "hidden: in workspace app, not shared with workspace third (shared with gateways, web)",
		},
		{
			name: "export without import hides the service",
			req:  ir.Request{Source: id(peek), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindNotInRegistry, workspace: "nosy", visibility: "hidden: in workspace app, not shared with workspace nosy",
		},
		{
			name:     "under ALLOW_ANY a hidden gateway-routed host is refused, not passed through around the gateway",
			outbound: ir.AllowAny,
			req:      ir.Request{Source: id(peek), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind:     ir.KindNotInRegistry, workspace: "nosy", visibility: "hidden:",
		},
		{
			name:     "under ALLOW_ANY a hidden direct service is refused too",
			outbound: ir.AllowAny,
			req:      ir.Request{Source: id(peek), Host: "direct.example.com", Port: 8443, Opaque: true},
			kind:     ir.KindNotInRegistry, workspace: "nosy", visibility: "hidden:",
		},
		{
			name:     "a caller's own wildcard does not route around another workspace's gateway route for a host it covers",
			outbound: ir.AllowAny,
			req:      ir.Request{Source: id(snoop), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind:     ir.KindNotInRegistry, workspace: "third", visibility: "hidden:",
		},
		{
			name: "a caller's own wildcard serves the hosts nobody hides",
			req:  ir.Request{Source: id(snoop), Host: "other.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindDirect, workspace: "third", visibility: "visible: service in workspace third, the caller's",
		},
		{
			name: "a service kept private by its owner is hidden from importers",
			req:  ir.Request{Source: id(frontend), Host: "private.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindNotInRegistry, workspace: "web", visibility: "hidden: in workspace app, not shared with workspace web",
		},
		{
			name: "a workload whose namespace is in no workspace sees nothing",
			req:  ir.Request{Source: id(wanderer), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindNotInRegistry, workspace: "", visibility: "hidden: in workspace app, the caller's namespace is in no workspace",
		},
		{
			name: "a service whose namespace is in no workspace is seen by no one, not even its namespace",
			req:  ir.Request{Source: id(wanderer), Host: "stray.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindNotInRegistry, visibility: "hidden: in no workspace, so no workload sees it",
		},
		{
			name: "an unauthenticated caller is in no workspace",
			req:  ir.Request{Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: ir.KindNotInRegistry, visibility: "hidden:",
		},
		{
			name:     "hosts in no ExternalService still pass through under ALLOW_ANY",
			outbound: ir.AllowAny,
			req:      ir.Request{Source: id(snoop), Host: "www.example.org", Port: 443, Opaque: true},
			kind:     ir.KindPassthrough, workspace: "third",
		},
	}
	res := Translate(workspacesSnapshot(t))
	if res.Invalid() {
		t.Fatalf("invalid: %v", res.Problems())
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := *res.Plan
			plan.Outbound = ir.OutboundMode(cmpOr(string(tc.outbound), string(ir.RegistryOnly)))
			d := plan.Decide(tc.req)
			if d.Kind != tc.kind || d.Workspace != tc.workspace || !strings.HasPrefix(d.Visibility, tc.visibility) || (tc.visibility == "" && d.Visibility != "") {
				t.Errorf("got %s in workspace %q, visibility %q\nwant %s in workspace %q, visibility %q...\nreason: %s", d.Kind, d.Workspace, d.Visibility, tc.kind, tc.workspace, tc.visibility, d.Reason)
			}
			if d.Kind == ir.KindNotInRegistry && (d.Allow || len(d.Targets) > 0) {
				t.Errorf("a hidden service was let through: %+v", d)
			}
		})
	}
}

// The gateway and the sidecar decide on their cut of the plan; visibility must travel with it.
func TestProxyConfigCutsCarryWorkspaces(t *testing.T) {
	res := Translate(workspacesSnapshot(t))
	g, err := proxyconfig.ForGateway(res.Plan, "cluster1/gloo-mesh-gateways/istio-egressgateway")
	if err != nil {
		t.Fatal(err)
	}
	s, err := proxyconfig.ForSidecar(res.Plan, "third", "snoop", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, plan := range map[string]*ir.Plan{"gateway": &g.Plan, "sidecar": &s.Plan} {
		plan.Compile()
		if d := plan.Decide(ir.Request{Source: id(snoop), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"}); d.Kind != ir.KindNotInRegistry {
			t.Errorf("%s: third's workload got %s: %s", name, d.Kind, d.Reason)
		}
		if d := plan.Decide(ir.Request{Source: id(frontend), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"}); d.Kind != ir.KindRouted {
			t.Errorf("%s: web's workload got %s: %s", name, d.Kind, d.Reason)
		}
	}
}

func TestWithoutWorkspacesEveryServiceIsVisible(t *testing.T) {
	snap := workspacesSnapshot(t)
	snap.Workspaces = nil
	res := Translate(snap)
	d := res.Plan.Decide(ir.Request{Source: id(peek), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"})
	if d.Kind != ir.KindDenied || d.Policy != "app/api-clients" || d.Visibility != "" {
		t.Errorf("single tenant: got %s (policy %q, visibility %q), want the policy to deny", d.Kind, d.Policy, d.Visibility)
	}
	if ps := res.Problems(); !strings.Contains(api.Problems(ps).Error(), "no Workspace is defined, so egret runs as one tenant") {
		t.Errorf("WorkspaceSettings without Workspaces are not reported: %v", ps)
	}
}

func TestGlobalWorkspaceSettingsApplyToEveryWorkspace(t *testing.T) {
	res := Translate(workspacesSnapshot(t, `apiVersion: admin.gloo.solo.io/v2
kind: WorkspaceSettings
metadata:
  name: global
  namespace: gloo-mesh
spec:
  exportTo:
  - workspaces:
    - name: '*'
  importFrom:
  - workspaces:
    - name: '*'
`))
	d := res.Plan.Decide(ir.Request{Source: id(peek), Host: "private.example.com", Port: 80, Method: "GET", Path: "/"})
	// Every workspace now sees app/private, so third's policy applies to it (and denies nosy).
	if d.Kind != ir.KindDenied || d.Policy != "third/grab" {
		t.Fatalf("global settings: %s: %s", d.Kind, d.Reason)
	}
	if want := "visible: service in workspace app, imported by workspace nosy via WorkspaceSettings gloo-mesh/global (exported by WorkspaceSettings gloo-mesh/global)"; d.Visibility != want {
		t.Errorf("visibility %q, want %q", d.Visibility, want)
	}
}

func TestInvalidWorkspaceFailsClosed(t *testing.T) {
	snap := workspacesSnapshot(t)
	snap.Workspaces = snap.Workspaces[:1] // only app
	snap.Workspaces[0].Spec.WorkloadClusters[0].Name = "Bad_Name"
	res := Translate(snap)
	if !res.Invalid() {
		t.Fatal("a bad cluster name was accepted")
	}
	d := res.Plan.Decide(ir.Request{Source: id(appClient), Host: "api.example.com", Port: 80, Method: "GET", Path: "/"})
	if d.Kind != ir.KindNotInRegistry {
		t.Errorf("with its only Workspace invalid the mesh went back to one tenant: %s: %s", d.Kind, d.Reason)
	}
}

// selector.workspace is not read yet; in a client selector, ignoring it would allow every workspace.
func TestClientSelectorWorkspaceAllowsNoOne(t *testing.T) {
	res := Translate(workspacesSnapshot(t, `apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata:
  name: by-workspace
  namespace: app
spec:
  applyToDestinations:
  - kind: EXTERNAL_SERVICE
    selector: {name: direct}
  config:
    authz:
      allowedClients:
      - serviceAccountSelector: {workspace: web}
`))
	d := res.Plan.Decide(ir.Request{Source: id(frontend), Host: "direct.example.com", Port: 8443, Opaque: true})
	if d.Allow || d.Policy != "app/by-workspace" {
		t.Errorf("a client selector by workspace allowed a caller: %s %s", d.Kind, d.Reason)
	}
}
