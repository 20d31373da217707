package api

import (
	"strings"
	"testing"
)

func TestDecodeErrorsNameFileLineObjectAndField(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "unknown field with a suggestion",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata:\n  name: g\n  namespace: web\nspec:\n  hostz: [a.com]\n",
			want: []string{`f.yaml:7: ExternalService web/g: spec.hostz: unknown field "hostz" (did you mean "hosts"?)`},
		},
		{
			name: "wrong type for a number",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata:\n  name: g\nspec:\n  hosts: [a.com]\n  ports:\n  - number: \"443\"\n    protocol: HTTPS\n",
			want: []string{`f.yaml:8: ExternalService g: spec.ports[0].number: must be a whole number, got the string "443"`},
		},
		{
			name: "unknown enum value",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata:\n  name: g\nspec:\n  hosts: [a.com]\n  ports:\n  - number: 443\n    protocol: HTTPX\n",
			want: []string{`f.yaml:9: ExternalService g: spec.ports[0].protocol: unknown value "HTTPX" (one of HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP, TLS)`},
		},
		{
			name: "unknown kind",
			yaml: "apiVersion: example.com/v1\nkind: Frobnicator\nmetadata:\n  name: r\n",
			want: []string{`f.yaml:2: Frobnicator r: kind: unknown kind "Frobnicator" (egret reads AccessPolicy, ExternalEndpoint, ExternalService, GatewayLifecycleManager, IstioLifecycleManager, Mesh, RouteTable, VirtualGateway, Workload, Workspace, WorkspaceSettings)`},
		},
		{
			name: "wrong apiVersion",
			yaml: "apiVersion: networking.gloo.solo.io/v1\nkind: VirtualGateway\nmetadata:\n  name: v\n",
			want: []string{`f.yaml:1: VirtualGateway v: apiVersion: VirtualGateway must have apiVersion networking.gloo.solo.io/v2, got "networking.gloo.solo.io/v1"`},
		},
		{
			name: "an unquoted boolean where a string belongs",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata:\n  name: w\n  labels:\n    expose: true\nspec:\n  serviceAccount: a\n  cluster: c\n",
			want: []string{`f.yaml:6: Workload w: metadata.labels.expose: must be a string, got the boolean true (quote it: "true")`},
		},
		{
			name: "an unexpanded variable from the docs",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata:\n  name: w\nspec:\n  serviceAccount: a\n  cluster: $REMOTE_CLUSTER1\n",
			want: []string{`f.yaml:7: Workload w: spec.cluster: "$REMOTE_CLUSTER1" looks like an unexpanded shell variable ($REMOTE_CLUSTER1): substitute it first (envsubst, or egret's --expand-env)`},
		},
		{
			name: "an unexpanded variable in a number field",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata:\n  name: g\nspec:\n  hosts: [a.com]\n  ports:\n  - number: ${PORT}\n    protocol: HTTPS\n",
			want: []string{`f.yaml:8: ExternalService g: spec.ports[0].number: "${PORT}" looks like an unexpanded shell variable (${PORT}): substitute it first (envsubst, or egret's --expand-env)`},
		},
		{
			name: "an unexpanded bare variable in a number field",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata:\n  name: g\nspec:\n  hosts: [a.com]\n  ports:\n  - number: $PORT\n    protocol: HTTPS\n",
			want: []string{`f.yaml:8: ExternalService g: spec.ports[0].number: "$PORT" looks like an unexpanded shell variable ($PORT): substitute it first (envsubst, or egret's --expand-env)`},
		},
		{
			name: "an unexpanded variable in a boolean field",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata:\n  name: g\nspec:\n  hosts: [a.com]\n  ports:\n  - number: 443\n    protocol: HTTPS\n    clientsideTls: {insecureSkipVerify: \"${SKIP}\"}\n",
			want: []string{`f.yaml:10: ExternalService g: spec.ports[0].clientsideTls.insecureSkipVerify: "${SKIP}" looks like an unexpanded shell variable (${SKIP}): substitute it first (envsubst, or egret's --expand-env)`},
		},
		{
			name: "duplicate field",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata:\n  name: w\nspec:\n  serviceAccount: a\n  serviceAccount: b\n  cluster: c\n",
			want: []string{`f.yaml:7: Workload w: spec.serviceAccount: duplicate field`},
		},
		{
			name: "a list where a mapping belongs",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata:\n  name: w\nspec: [1]\n",
			want: []string{`f.yaml:5: Workload w: spec: must be a mapping, got a list`},
		},
		{
			name: "negative port",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalEndpoint\nmetadata:\n  name: e\nspec:\n  address: 1.2.3.4\n  ports:\n  - number: -1\n",
			want: []string{`f.yaml:8: ExternalEndpoint e: spec.ports[0].number: -1 is out of range`},
		},
		{
			name: "broken YAML",
			yaml: "apiVersion: v1\nkind: [\n",
			want: []string{`f.yaml:2: invalid YAML: did not find expected node content`},
		},
		{
			name: "a document that is not a mapping",
			yaml: "- a\n- b\n",
			want: []string{`f.yaml:1: a resource must be a mapping with apiVersion, kind, metadata and spec, got a list`},
		},
		{
			name: "missing kind",
			yaml: "apiVersion: egret.dev/v1alpha1\nmetadata:\n  name: w\n",
			want: []string{`f.yaml:1: object w: kind: missing: every resource needs a kind (one of AccessPolicy, ExternalEndpoint, ExternalService, GatewayLifecycleManager, IstioLifecycleManager, Mesh, RouteTable, VirtualGateway, Workload, Workspace, WorkspaceSettings)`},
		},
		{
			name: "every problem of a file at once",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata:\n  name: w\nspec:\n  serviceAccont: a\n  clustr: c\n---\napiVersion: egret.dev/v1alpha1\nkind: Mesh\nmetadata:\n  name: m\nspec:\n  outboundTrafficPolicy:\n    mode: DENY\n",
			want: []string{
				`f.yaml:6: Workload w: spec.serviceAccont: unknown field "serviceAccont" (did you mean "serviceAccount"?)`,
				`f.yaml:7: Workload w: spec.clustr: unknown field "clustr" (did you mean "cluster"?)`,
				`f.yaml:15: Mesh m: spec.outboundTrafficPolicy.mode: unknown value "DENY" (one of ALLOW_ANY, REGISTRY_ONLY)`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, problems := Decode("f.yaml", []byte(tc.yaml))
			if len(objs) != 0 {
				t.Errorf("got %d objects from invalid input, want none", len(objs))
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDecodeReadsJSONListsAndManyDocuments(t *testing.T) {
	json := `{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"egret.dev/v1alpha1","kind":"Workload","metadata":{"name":"a","namespace":"x"},"spec":{"serviceAccount":"sa","cluster":"c1"}},
 {"apiVersion":"egret.dev/v1alpha1","kind":"Mesh","metadata":{"name":"m"},"spec":{"outboundTrafficPolicy":{"mode":"REGISTRY_ONLY"}}}]}`
	objs, problems := Decode("l.json", []byte(json))
	if len(problems) != 0 {
		t.Fatalf("problems: %v", Problems(problems))
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	w := objs[0].(*Workload)
	if w.Spec.ServiceAccount != "sa" || w.Metadata.Namespace != "x" || w.Src.Line != 2 {
		t.Errorf("workload decoded as %+v at line %d", w.Spec, w.Src.Line)
	}
	if m := objs[1].(*Mesh); m.Spec.OutboundTrafficPolicy.Mode != OutboundRegistryOnly {
		t.Errorf("mesh mode %q", m.Spec.OutboundTrafficPolicy.Mode)
	}
	objs, problems = Decode("m.yaml", []byte("---\n# nothing\n---\napiVersion: egret.dev/v1alpha1\nkind: Mesh\nmetadata: {name: m}\n---\n"))
	if len(problems) != 0 || len(objs) != 1 {
		t.Fatalf("got %d objects and %v", len(objs), Problems(problems))
	}
}

func TestDecodeAcceptsIstioMeshConfigFieldsItDoesNotRead(t *testing.T) {
	y := "apiVersion: admin.gloo.solo.io/v2\nkind: IstioLifecycleManager\nmetadata: {name: i, namespace: gloo-mesh}\nspec:\n  installations:\n  - istioOperatorSpec:\n      meshConfig:\n        enableTracing: true\n        defaultConfig: {proxyMetadata: {A: \"1\"}}\n        outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n"
	objs, problems := Decode("i.yaml", []byte(y))
	if len(problems) != 0 || len(objs) != 1 {
		t.Fatalf("got %d objects and %v", len(objs), Problems(problems))
	}
	mc := objs[0].(*IstioLifecycleManager).Spec.Installations[0].IstioOperatorSpec.MeshConfig
	if mc.OutboundTrafficPolicy.Mode != OutboundRegistryOnly || mc.Other["enableTracing"].Value != true {
		t.Errorf("meshConfig decoded as %+v", mc)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata: {name: g}\nspec:\n  hosts: [a.com]\n  ports: [{number: 443, protocol: HTTPS, clientsideTls: {}, egressGatewayRoutes: {virtualGatewayRefs: [{name: x}]}}]\n",
		"apiVersion: v1\nkind: List\nitems: [{apiVersion: egret.dev/v1alpha1, kind: Mesh, metadata: {name: m}}]\n",
		"a: &x [*x]\n",
		"apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: &m {name: w}\nspec: {<<: *m}\n",
		"{\"apiVersion\": 1}",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, problems := Decode("fuzz.yaml", data)
		for _, o := range objs {
			SetDefaults(o)
		}
		s := &Snapshot{}
		for _, o := range objs {
			s.Add(o)
		}
		_ = Validate(s)
		for _, p := range problems {
			if p.Source.File != "fuzz.yaml" {
				t.Fatalf("problem without its file: %v", p)
			}
		}
	})
}
