package crd_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"egret.dev/egret/examples"
	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/crd"
	"egret.dev/egret/internal/kubetest"
)

// cluster is a management cluster with egret's CRDs loaded, and a client that applies as kubectl does.
type cluster struct {
	*kubetest.APIServer
	gvr map[schema.GroupVersionKind]schema.GroupVersionResource
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	s := kubetest.StartAPIServer(t, "management")
	crds, err := crd.All()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range crds {
		b, err := crd.YAML(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyYAML(ctx, b); err != nil { // waits until the CRD is Established
			t.Fatalf("the API server refuses the generated CRD %s: %v", c.Name, err)
		}
	}
	c := &cluster{APIServer: s, gvr: map[schema.GroupVersionKind]schema.GroupVersionResource{}}
	for _, r := range crd.Resources() {
		c.gvr[r.GVK] = r.GVR
	}
	return c
}

// apply server-side-applies u with strict field validation, as `kubectl apply` (strict by default)
// does: an unknown field is an error, not a warning and a silently pruned field.
func (c *cluster) apply(ctx context.Context, u *unstructured.Unstructured) error {
	gvr, ok := c.gvr[u.GroupVersionKind()]
	if !ok {
		return &unknownKind{u.GroupVersionKind()}
	}
	if u.GetNamespace() == "" {
		u.SetNamespace(api.DefaultNamespace) // as kubectl does
	}
	if err := c.EnsureNamespace(ctx, u.GetNamespace()); err != nil {
		return err
	}
	body, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	_, err = c.Dynamic.Resource(gvr).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: "kubectl", Force: &force, FieldValidation: metav1.FieldValidationStrict})
	return err
}

type unknownKind struct{ gvk schema.GroupVersionKind }

func (e *unknownKind) Error() string { return "no egret CRD for " + e.gvk.String() }

// egretErrors is what `egret validate` says about a file: decode problems, then the validator's errors.
func egretErrors(file string, data []byte) api.Problems {
	objs, problems := api.Decode(file, data)
	var s api.Snapshot
	for _, o := range objs {
		api.SetDefaults(o)
		s.Add(o)
	}
	return append(api.Problems(problems), api.Validate(&s)...).Errors()
}

// TestTheSeedAndEveryExampleApplyVerbatim: every example (the seed's YAML) and every object egret accepts
// in the translate golden inputs is accepted by the API server under the generated CRDs.
func TestTheSeedAndEveryExampleApplyVerbatim(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	type file struct {
		name string
		data []byte
	}
	var files []file
	err := fs.WalkDir(examples.BookinfoEgress, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(examples.BookinfoEgress, p)
		files = append(files, file{"examples/" + p, b})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	golden, _ := filepath.Glob(filepath.Join("..", "translate", "testdata", "*.in.yaml"))
	sort.Strings(golden)
	for _, g := range golden {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file{"internal/translate/testdata/" + filepath.Base(g), b})
	}

	// The examples are one scenario: egret validates them together (they refer to each other).
	var all []byte
	for _, f := range files {
		if strings.HasPrefix(f.name, "examples/") {
			all = append(append(all, f.data...), "\n---\n"...)
		}
	}
	if problems := egretErrors("examples", all); len(problems) > 0 {
		t.Fatalf("egret itself rejects the examples: %v", problems)
	}
	applied := 0
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			rejected := map[string]bool{}
			for _, p := range egretErrors(f.name, f.data) {
				rejected[p.Object] = true
			}
			if strings.HasPrefix(f.name, "examples/") {
				rejected = nil // judged together above
			}
			objs, err := kubetest.DecodeYAML(f.data)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range objs {
				ref := u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
				if u.GetNamespace() == "" {
					ref = u.GetKind() + " " + u.GetName()
				}
				if rejected[ref] {
					continue // egret rejects it too; the invalid table below compares rejections
				}
				err := c.apply(ctx, u)
				if _, unsupported := err.(*unknownKind); unsupported {
					continue // a Gloo kind egret reports as unsupported: it has no CRD
				}
				if err != nil {
					t.Errorf("egret accepts %s, the API server does not: %v", ref, err)
					continue
				}
				applied++
			}
		})
	}
	if applied < 20 {
		t.Fatalf("only %d objects applied; the test is not looking at what it should", applied)
	}
}

// TestTheAPIServerRejectsWhatTheSchemaCanSay applies invalid objects; each must be rejected with a message
// naming the field. egretRejects records whether `egret validate` rejects the object too (checked here).
func TestTheAPIServerRejectsWhatTheSchemaCanSay(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	const es = "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata: {name: NAME, namespace: bookinfo}\n"
	cases := []struct {
		name         string
		yaml         string
		field        string // the API server's message names it
		egretRejects bool   // egret validate reports an error on that field too
	}{
		{"an unknown enum value", es + `spec: {hosts: [a.example.com], ports: [{number: 443, protocol: HTTPX}]}`,
			"spec.ports[0].protocol", true},
		{"a port without its required number", es + `spec: {hosts: [a.example.com], ports: [{name: https, protocol: HTTPS}]}`,
			"spec.ports[0].number", true},
		{"a port without its required protocol", es + `spec: {hosts: [a.example.com], ports: [{number: 443}]}`,
			"spec.ports[0].protocol", true},
		{"an unknown field", es + `spec: {hostz: [a.example.com], hosts: [a.example.com], ports: [{number: 443, protocol: HTTPS}]}`,
			"spec.hostz", true},
		{"an unknown field deep down", es + `spec: {hosts: [a.example.com], ports: [{number: 443, protocol: HTTPS, clientsideTls: {sni: a.example.com, verify: true}}]}`,
			"spec.ports[0].clientsideTls.verify", true},
		{"a port number written as a string", es + `spec: {hosts: [a.example.com], ports: [{number: "443", protocol: HTTPS}]}`,
			"spec.ports[0].number", true},
		{"an unexpanded ${VAR} in a number field", es + "spec:\n  hosts: [a.example.com]\n  ports:\n  - number: ${PORT}\n    protocol: HTTPS\n",
			"spec.ports[0].number", true},
		{"a list written as a string", es + `spec: {hosts: a.example.com, ports: [{number: 443, protocol: HTTPS}]}`,
			"spec.hosts", true},
		{"a port out of range", es + `spec: {hosts: [a.example.com], ports: [{number: 70000, protocol: HTTPS}]}`,
			"spec.ports[0].number", true},
		{"neither hosts nor addresses", es + `spec: {ports: [{number: 443, protocol: HTTPS}]}`,
			"spec.hosts", true},
		{"egress gateway routes on a TCP port", es + `spec: {hosts: [a.example.com], ports: [{number: 443, protocol: TCP, egressGatewayRoutes: {virtualGatewayRefs: [{name: gw}]}}]}`,
			"spec.ports[0].egressGatewayRoutes", true},
		{"egress gateway routes naming no VirtualGateway", es + `spec: {hosts: [a.example.com], ports: [{number: 443, protocol: HTTPS, egressGatewayRoutes: {portMatch: 80}}]}`,
			"spec.ports[0].egressGatewayRoutes.virtualGatewayRefs", true},
		{"a VirtualGateway listener that is not ISTIO_MUTUAL", `apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata: {name: simple, namespace: bookinfo}
spec: {listeners: [{port: {number: 443}, tls: {mode: SIMPLE}, http: {}}]}`, "spec.listeners[0].tls.mode", true},
		{"a VirtualGateway listener without tls", `apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata: {name: plain, namespace: bookinfo}
spec: {listeners: [{port: {number: 80}, http: {}}]}`, "spec.listeners[0].tls", true},
		{"an AccessPolicy on workloads", `apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata: {name: workloads, namespace: bookinfo}
spec: {applyToWorkloads: [{selector: {labels: {app: x}}}], config: {authz: {allowedClients: [{serviceAccountSelector: {name: a}}]}}}`,
			"spec.applyToWorkloads", true},
		{"an AccessPolicy method that is not a token", `apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata: {name: method, namespace: bookinfo}
spec: {config: {authz: {allowedMethods: ["GET /"]}}}`, "spec.config.authz.allowedMethods[0]", true},
		{"an AccessPolicy path with a * inside", `apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata: {name: path, namespace: bookinfo}
spec: {config: {authzList: [{allowedPaths: ["/a*b"]}]}}`, "spec.config.authzList[0].allowedPaths[0]", true},
		{"a Workload without its service account", `apiVersion: egret.dev/v1alpha1
kind: Workload
metadata: {name: nosa, namespace: bookinfo}
spec: {cluster: cluster1}`, "spec.serviceAccount", true},
		{"a cluster name with an underscore", `apiVersion: egret.dev/v1alpha1
kind: Workload
metadata: {name: underscore, namespace: bookinfo}
spec: {serviceAccount: reviews, cluster: cluster_1}`, "spec.cluster", true},
		{"a RouteTable destination without kind", `apiVersion: networking.gloo.solo.io/v2
kind: RouteTable
metadata: {name: nokind, namespace: bookinfo}
spec: {hosts: [a.example.com], http: [{forwardTo: {destinations: [{ref: {name: a}}]}}]}`, "spec.http[0].forwardTo.destinations[0].kind", true},
		{"a RouteTable TCP route", `apiVersion: networking.gloo.solo.io/v2
kind: RouteTable
metadata: {name: tcp, namespace: bookinfo}
spec: {hosts: [a.example.com], http: [{forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: a}}]}}], tcp: [{forwardTo: {}}]}`,
			"spec.tcp", true},
		{"a GatewayLifecycleManager without clusters", `apiVersion: admin.gloo.solo.io/v2
kind: GatewayLifecycleManager
metadata: {name: noclusters, namespace: gloo-mesh}
spec: {installations: [{gatewayRevision: "1-25"}]}`, "spec.installations[0].clusters", true},
		{"metadata.clusterName, egret's own metadata field", `apiVersion: egret.dev/v1alpha1
kind: Mesh
metadata: {name: placed, namespace: default, clusterName: cluster1}
spec: {}`, "metadata.clusterName", false},
		{"a Mesh trust domain in capitals", `apiVersion: egret.dev/v1alpha1
kind: Mesh
metadata: {name: caps, namespace: default}
spec: {trustDomain: Example.COM}`, "spec.trustDomain", true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.yaml = strings.ReplaceAll(tc.yaml, "NAME", fmt.Sprintf("case-%d", i))
			problems := egretErrors("case.yaml", []byte(tc.yaml))
			onField := false
			for _, p := range problems {
				onField = onField || strings.HasPrefix(p.Path, tc.field)
			}
			if onField != tc.egretRejects {
				t.Errorf("egret validate reports an error on %s: %v, the table says %v (egret: %v)", tc.field, onField, tc.egretRejects, problems)
			}
			objs, err := kubetest.DecodeYAML([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.apply(ctx, objs[0])
			if err == nil {
				t.Fatal("the API server accepted it")
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("the rejection does not name %s: %v", tc.field, err)
			}
			t.Logf("%v", err)
		})
	}
}

// TestTheStatusSubresourceTakesTheContractsStatus writes a status in the shape the controller writes
// (observedGeneration, Accepted/Programmed conditions, per-cluster conditions) through /status, and
// checks that the spec cannot be changed there and the status cannot be changed through the main resource.
func TestTheStatusSubresourceTakesTheContractsStatus(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := fs.ReadFile(examples.BookinfoEgress, "bookinfo-egress/03-external-service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.DecodeYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.apply(ctx, objs[0]); err != nil {
		t.Fatal(err)
	}
	gvr := c.gvr[objs[0].GroupVersionKind()]
	ri := c.Dynamic.Resource(gvr).Namespace("bookinfo")
	got, err := ri.Get(ctx, "google", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	cond := func(typ, status, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg,
			"lastTransitionTime": now, "observedGeneration": got.GetGeneration()}
	}
	status := map[string]any{
		"observedGeneration": got.GetGeneration(),
		"conditions": []any{
			cond(crd.ConditionAccepted, "True", crd.ReasonAccepted, ""),
			cond(crd.ConditionProgrammed, "False", crd.ReasonApplyFailed, "cluster2: connection refused"),
		},
		"clusters": []any{
			map[string]any{"name": "cluster1", "observedGeneration": got.GetGeneration(),
				"conditions": []any{cond(crd.ConditionProgrammed, "True", crd.ReasonProgrammed, "")}},
			map[string]any{"name": "cluster2", "observedGeneration": got.GetGeneration(),
				"conditions": []any{cond(crd.ConditionProgrammed, "False", crd.ReasonApplyFailed, "connection refused")}},
		},
	}
	got.Object["status"] = status
	updated, err := ri.UpdateStatus(ctx, got, metav1.UpdateOptions{FieldValidation: metav1.FieldValidationStrict})
	if err != nil {
		t.Fatalf("the status subresource refuses the contract's status: %v", err)
	}
	if reason, _, _ := unstructured.NestedString(updated.Object, "status", "clusters"); reason != "" {
		t.Fatal("unexpected")
	}
	clusters, _, _ := unstructured.NestedSlice(updated.Object, "status", "clusters")
	if len(clusters) != 2 {
		t.Fatalf("status.clusters = %v", clusters)
	}

	t.Run("a condition without a reason is refused", func(t *testing.T) {
		bad := updated.DeepCopy()
		conds, _, _ := unstructured.NestedSlice(bad.Object, "status", "conditions")
		delete(conds[0].(map[string]any), "reason")
		_ = unstructured.SetNestedSlice(bad.Object, conds, "status", "conditions")
		if _, err := ri.UpdateStatus(ctx, bad, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "status.conditions[0].reason") {
			t.Fatalf("want a rejection naming status.conditions[0].reason, got %v", err)
		}
	})
	t.Run("two conditions of one type are refused", func(t *testing.T) {
		bad := updated.DeepCopy()
		conds, _, _ := unstructured.NestedSlice(bad.Object, "status", "conditions")
		_ = unstructured.SetNestedSlice(bad.Object, append(conds, conds[0]), "status", "conditions")
		if _, err := ri.UpdateStatus(ctx, bad, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "status.conditions") {
			t.Fatalf("want a rejection naming status.conditions, got %v", err)
		}
	})
	t.Run("a spec change through /status is ignored", func(t *testing.T) {
		bad := updated.DeepCopy()
		_ = unstructured.SetNestedStringSlice(bad.Object, []string{"evil.example.com"}, "spec", "hosts")
		after, err := ri.UpdateStatus(ctx, bad, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if hosts, _, _ := unstructured.NestedStringSlice(after.Object, "spec", "hosts"); len(hosts) != 1 || hosts[0] != "www.google.com" {
			t.Fatalf("spec.hosts changed through /status: %v", hosts)
		}
	})
}
