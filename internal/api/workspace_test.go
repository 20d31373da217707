package api

import (
	"slices"
	"testing"
)

func TestDecodeWorkspaceFieldErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "an unknown field in a workload cluster",
			yaml: "apiVersion: admin.gloo.solo.io/v2\nkind: Workspace\nmetadata: {name: app, namespace: gloo-mesh}\nspec:\n  workloadClusters:\n  - name: cluster1\n    namespace: [app]\n",
			want: `ws.yaml:7: Workspace gloo-mesh/app: spec.workloadClusters[0].namespace: unknown field "namespace" (did you mean "namespaces"?)`,
		},
		{
			name: "an unknown resource kind",
			yaml: "apiVersion: admin.gloo.solo.io/v2\nkind: WorkspaceSettings\nmetadata: {name: s, namespace: app}\nspec:\n  exportTo:\n  - workspaces: [{name: web}]\n    resources:\n    - kind: VIRTUAL_GATEWAY\n",
			want: `ws.yaml:8: WorkspaceSettings app/s: spec.exportTo[0].resources[0].kind: unknown value "VIRTUAL_GATEWAY" (one of ALL, ROUTE_TABLE, SERVICE, VIRTUAL_DESTINATION, EXTERNAL_SERVICE, API_DOC, GRAPHQL_RESOLVER_MAP, GRAPHQL_SCHEMA, GRAPHQL_STITCHED_SCHEMA, EXTERNAL_WORKLOAD)`,
		},
		{
			name: "an unknown option",
			yaml: "apiVersion: admin.gloo.solo.io/v2\nkind: WorkspaceSettings\nmetadata: {name: s, namespace: app}\nspec:\n  options:\n    serviceIsolation:\n      enable: true\n",
			want: `ws.yaml:7: WorkspaceSettings app/s: spec.options.serviceIsolation.enable: unknown field "enable" (did you mean "enabled"?)`,
		},
		{
			name: "a Workspace under the wrong group",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: Workspace\nmetadata: {name: app}\nspec: {}\n",
			want: `ws.yaml:1: Workspace app: apiVersion: Workspace must have apiVersion admin.gloo.solo.io/v2, got "networking.gloo.solo.io/v2"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := Decode("ws.yaml", []byte(tc.yaml))
			var got []string
			for _, p := range ps {
				got = append(got, p.Error())
			}
			if !slices.Contains(got, tc.want) {
				t.Errorf("problems:\n%v\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestValidateWorkspaces(t *testing.T) {
	const ws = "apiVersion: admin.gloo.solo.io/v2\nkind: Workspace\nmetadata: {name: app, namespace: gloo-mesh}\nspec:\n  workloadClusters:\n"
	const settings = "apiVersion: admin.gloo.solo.io/v2\nkind: WorkspaceSettings\nmetadata: {name: s, namespace: app}\nspec:\n"
	const app = ws + "  - name: '*'\n    namespaces: [{name: app}]\n---\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "patterns with * are accepted",
			yaml: ws + "  - name: 'cluster-*'\n    namespaces: [{name: 'team-*'}, {name: '*'}]\n",
		},
		{
			name: "a cluster name with an underscore",
			yaml: ws + "  - name: my_cluster\n    namespaces: [{name: app}]\n",
			want: []string{`v.yaml:6: Workspace gloo-mesh/app: spec.workloadClusters[0].name: cluster name "my_cluster" contains '_': cluster names become SANs and trust domains in certificates, and an underscore is not valid there; rename it, e.g. "my-cluster"`},
		},
		{
			name: "a namespace pattern with upper case",
			yaml: ws + "  - name: cluster1\n    namespaces: [{name: App}]\n",
			want: []string{`v.yaml:7: Workspace gloo-mesh/app: spec.workloadClusters[0].namespaces[0].name: "App" is not a namespace name or pattern (lower-case letters, digits, '-', '.', and * for any characters)`},
		},
		{
			name: "cluster and namespace label selectors match nothing, and say so",
			yaml: ws + "  - selector: {region: eu}\n    namespaces:\n    - labels: {team: a}\n",
			want: []string{
				`v.yaml:6: warning: Workspace gloo-mesh/app: spec.workloadClusters[0].selector: egret has no KubernetesCluster objects to match cluster labels against, so this entry selects no cluster; name the clusters instead (name: '*' for every cluster)`,
				`v.yaml:8: warning: Workspace gloo-mesh/app: spec.workloadClusters[0].namespaces[0].labels: egret has no Namespace objects to match labels against, so this entry selects no namespace; name the namespaces instead`,
			},
		},
		{
			name: "a workload cluster with neither name nor selector",
			yaml: ws + "  - namespaces: [{name: app}]\n",
			want: []string{`v.yaml:6: Workspace gloo-mesh/app: spec.workloadClusters[0].name: required: name the clusters (name: '*' for every cluster)`},
		},
		{
			name: "a workspace reference with both name and selector",
			yaml: app + settings + "  importFrom:\n  - workspaces:\n    - name: app\n      selector: {team: a}\n",
			want: []string{`v.yaml:15: WorkspaceSettings app/s: spec.importFrom[0].workspaces[0]: set name or selector, not both`},
		},
		{
			name: "an entry naming no workspace, and a workspace that does not exist",
			yaml: app + settings + "  exportTo:\n  - resources: [{kind: ALL}]\n  - workspaces: [{name: web}]\n",
			want: []string{
				`v.yaml:14: warning: WorkspaceSettings app/s: spec.exportTo[0].workspaces: names no workspace, so this entry shares nothing (name: '*' means every workspace)`,
				`v.yaml:15: warning: WorkspaceSettings app/s: spec.exportTo[1].workspaces[0].name: no Workspace is named "web"`,
			},
		},
		{
			name: "options egret does not act on are reported",
			yaml: app + settings + "  options:\n    serviceIsolation: {enabled: true, trimProxyConfig: true}\n    federation: {enabled: true, hostSuffix: global}\n    eastWestGateways: [{selector: {labels: {istio: eastwestgateway}}}]\n",
			want: []string{
				`v.yaml:14: warning: WorkspaceSettings app/s: spec.options.serviceIsolation: egret always enforces workspace visibility of ExternalServices, at sidecars and gateways; isolating in-mesh services from each other is not egret's job`,
				`v.yaml:14: warning: WorkspaceSettings app/s: spec.options.serviceIsolation.trimProxyConfig: not acted on: sidecars receive the whole registry (they need it to refuse hidden hosts) and decide visibility per call`,
				`v.yaml:15: warning: WorkspaceSettings app/s: spec.options.federation: not acted on: egret does not federate in-mesh services across clusters`,
				`v.yaml:16: warning: WorkspaceSettings app/s: spec.options.eastWestGateways: not acted on: egret has no east-west gateways`,
			},
		},
		{
			name: "a resource selector with a bad namespace",
			yaml: app + settings + "  exportTo:\n  - workspaces: [{name: '*'}]\n    resources: [{kind: EXTERNAL_SERVICE, namespace: Web}]\n",
			want: []string{`v.yaml:15: WorkspaceSettings app/s: spec.exportTo[0].resources[0].namespace: "Web" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := validate(t, tc.yaml)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", joinLines(got), joinLines(tc.want))
			}
		})
	}
}

func joinLines(ss []string) string {
	out := ""
	for _, s := range ss {
		out += "  " + s + "\n"
	}
	return out
}
