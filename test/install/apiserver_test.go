package install

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"egret.dev/egret/internal/kubetest"
)

// dryRunApply server-side-applies every object with dryRun=All: the API server decodes, defaults,
// validates and admits each one (schemas, RBAC escalation checks, admission plugins) and stores none.
func dryRunApply(ctx context.Context, api *kubetest.APIServer, objs []*unstructured.Unstructured) error {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(api.Discovery()))
	for _, u := range objs {
		id := objectID(u)
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		body, err := u.MarshalJSON()
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		force := true
		opts := metav1.PatchOptions{FieldManager: "egret-test", Force: &force, DryRun: []string{metav1.DryRunAll}}
		ri := api.Dynamic.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			_, err = ri.Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, body, opts)
		} else {
			_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, opts)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
	}
	return nil
}

func createNamespace(ctx context.Context, t *testing.T, api *kubetest.APIServer, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := api.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// TestChartAndEgretInstallApplyWithServerSideDryRun sends `helm template` and `egret install
// --dry-run` output, for each of the settings the comparison test uses, and the workload-cluster
// RBAC, to a real kube-apiserver as server-side applies with dryRun=All. Every object must be
// accepted and none stored; a broken Deployment must be rejected, so the check is known to bite.
func TestChartAndEgretInstallApplyWithServerSideDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	helm(t, "version") // skip (or fail under CI) before starting servers when helm is missing
	api := kubetest.StartAPIServer(t, "install-dry-run")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Dry-run objects land nowhere, so a namespaced one needs its namespace to exist already.
	for _, ns := range []string{"egret-system", "platform"} {
		createNamespace(ctx, t, api, ns)
	}
	for _, s := range sameSettings {
		t.Run(s.name+" (helm template)", func(t *testing.T) {
			objs := decode(t, "helm template", helm(t, append([]string{"template"}, append(s.helmArgs, chartDir, "--include-crds")...)...))
			if err := dryRunApply(ctx, api, objs); err != nil {
				t.Fatalf("the API server rejects the chart: %v", err)
			}
		})
		t.Run(s.name+" (egret install)", func(t *testing.T) {
			objs := decode(t, "egret install", egretInstall(t, s.egretArgs...))
			if err := dryRunApply(ctx, api, objs); err != nil {
				t.Fatalf("the API server rejects egret install's output: %v", err)
			}
		})
	}
	t.Run("workload-cluster RBAC", func(t *testing.T) {
		objs := decode(t, "egret install --workload-cluster", egretInstall(t, "--workload-cluster"))
		if err := dryRunApply(ctx, api, objs); err != nil {
			t.Fatalf("the API server rejects the workload-cluster RBAC: %v", err)
		}
	})
	t.Run("nothing was stored", func(t *testing.T) {
		_, err := api.Clientset.AppsV1().Deployments("egret-system").Get(ctx, "egret", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("the dry run stored the Deployment (get: %v)", err)
		}
	})
	t.Run("a broken Deployment is rejected", func(t *testing.T) {
		var dep *unstructured.Unstructured
		for _, u := range decode(t, "egret install", egretInstall(t)) {
			if u.GetKind() == "Deployment" {
				dep = u
			}
		}
		containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
		containers[0].(map[string]any)["ports"].([]any)[0].(map[string]any)["name"] = "not_a_port_name"
		if err := unstructured.SetNestedSlice(dep.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
		err := dryRunApply(ctx, api, []*unstructured.Unstructured{dep})
		if err == nil || !strings.Contains(err.Error(), "not_a_port_name") {
			t.Fatalf("want the invalid port name rejected, got %v", err)
		}
	})
}

// access is one question to the API server's RBAC authorizer.
type access struct {
	name                               string
	verb, group, resource, subresource string
	namespace, object                  string
	allowed                            bool
}

func review(ctx context.Context, api *kubetest.APIServer, user string, c access) (*authorizationv1.SubjectAccessReview, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: c.verb, Group: c.group, Resource: c.resource, Subresource: c.subresource,
			Namespace: c.namespace, Name: c.object,
		},
	}}
	return api.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
}

// checkAccess asks each question. The RBAC authorizer reads roles and bindings from a watch cache,
// so it first waits (up to 10 s) until the first allowed case is allowed: from then on every object
// applied before it is in the cache too, and a "denied" answer means denied.
func checkAccess(ctx context.Context, t *testing.T, api *kubetest.APIServer, user string, cases []access) {
	t.Helper()
	for _, c := range cases {
		if !c.allowed {
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := review(ctx, api, user, c)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Allowed || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		break
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := review(ctx, api, user, c)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Allowed != c.allowed {
				t.Fatalf("%s %s: allowed=%v, want %v (%s)", user, c.name, got.Status.Allowed, c.allowed, got.Status.Reason)
			}
		})
	}
}

// TestRBACGrantsTheContractAndNoMore installs egret twice for real (release egret in egret-system
// without a local cluster, release edge in platform with one) and the workload-cluster RBAC, then asks
// the API server's RBAC authorizer what each ServiceAccount may do: what the contract lists, and
// nothing an attacker holding the controller's token would want (write specs, read other namespaces'
// Secrets, take another Lease, touch Istio objects without --local-cluster). It also checks that the
// controller's pod meets the restricted Pod Security Standard its namespace enforces.
func TestRBACGrantsTheContractAndNoMore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	api := kubetest.StartAPIServer(t, "install-rbac")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := api.ApplyYAML(ctx, egretInstall(t)); err != nil {
		t.Fatalf("egret install: %v", err)
	}
	if err := api.ApplyYAML(ctx, egretInstall(t, "--name", "edge", "-n", "platform", "--local-cluster", "hub-1")); err != nil {
		t.Fatalf("egret install --local-cluster: %v", err)
	}

	const (
		gloo     = "networking.gloo.solo.io"
		security = "security.policy.gloo.solo.io"
		istioNet = "networking.istio.io"
	)
	controller := []access{
		{name: "lists ExternalServices in any namespace", verb: "list", group: gloo, resource: "externalservices"},
		{name: "watches AccessPolicies in bookinfo", verb: "watch", group: security, resource: "accesspolicies", namespace: "bookinfo"},
		{name: "patches ExternalService status", verb: "patch", group: gloo, resource: "externalservices", subresource: "status", namespace: "bookinfo"},
		{name: "updates Mesh status", verb: "update", group: "egret.dev", resource: "meshes", subresource: "status", namespace: "default"},
		{name: "gets a WorkspaceSettings", verb: "get", group: "admin.gloo.solo.io", resource: "workspacesettings", namespace: "ops"},
		{name: "creates core events", verb: "create", resource: "events", namespace: "bookinfo"},
		{name: "patches events.k8s.io events", verb: "patch", group: "events.k8s.io", resource: "events", namespace: "bookinfo"},
		{name: "watches Secrets in its namespace", verb: "watch", resource: "secrets", namespace: "egret-system"},
		{name: "creates a Lease in its namespace", verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: "egret-system"},
		{name: "renews its own Lease", verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "egret-system", object: "egret-controller"},

		{name: "cannot create ExternalServices", verb: "create", group: gloo, resource: "externalservices", namespace: "bookinfo", allowed: false},
		{name: "cannot patch an AccessPolicy's spec", verb: "patch", group: security, resource: "accesspolicies", namespace: "bookinfo", allowed: false},
		{name: "cannot delete VirtualGateways", verb: "delete", group: gloo, resource: "virtualgateways", namespace: "bookinfo", allowed: false},
		{name: "cannot read Secrets in another namespace", verb: "get", resource: "secrets", namespace: "default", allowed: false},
		{name: "cannot list Secrets cluster-wide", verb: "list", resource: "secrets", allowed: false},
		{name: "cannot write Secrets in its namespace", verb: "update", resource: "secrets", namespace: "egret-system", allowed: false},
		{name: "cannot take another Lease", verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "egret-system", object: "kube-controller-manager", allowed: false},
		{name: "cannot touch Leases elsewhere", verb: "get", group: "coordination.k8s.io", resource: "leases", namespace: "kube-system", object: "egret-controller", allowed: false},
		{name: "cannot patch ServiceEntries without a local cluster", verb: "patch", group: istioNet, resource: "serviceentries", namespace: "bookinfo", allowed: false},
		{name: "cannot create Namespaces without a local cluster", verb: "create", resource: "namespaces", allowed: false},
		{name: "cannot create Pods", verb: "create", resource: "pods", namespace: "egret-system", allowed: false},
	}
	for i := range controller {
		if !strings.HasPrefix(controller[i].name, "cannot") {
			controller[i].allowed = true
		}
	}
	t.Run("controller without a local cluster", func(t *testing.T) {
		checkAccess(ctx, t, api, "system:serviceaccount:egret-system:egret", controller)
	})

	local := []access{
		{name: "patches ServiceEntries", verb: "patch", group: istioNet, resource: "serviceentries", namespace: "bookinfo", allowed: true},
		{name: "deletes AuthorizationPolicies it no longer renders", verb: "delete", group: "security.istio.io", resource: "authorizationpolicies", namespace: "bookinfo", allowed: true},
		{name: "creates a gateway namespace", verb: "create", resource: "namespaces", allowed: true},
		{name: "applies the gateway Deployment", verb: "patch", group: "apps", resource: "deployments", namespace: "gloo-mesh-gateways", allowed: true},
		{name: "reads Secrets in its own namespace", verb: "get", resource: "secrets", namespace: "platform", allowed: true},
		{name: "renews its own Lease", verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "platform", object: "egret-controller", allowed: true},
		{name: "cannot delete Namespaces", verb: "delete", resource: "namespaces", allowed: false},
		{name: "cannot read Secrets", verb: "get", resource: "secrets", namespace: "gloo-mesh-gateways", allowed: false},
		{name: "cannot read the other release's Secrets", verb: "list", resource: "secrets", namespace: "egret-system", allowed: false},
		{name: "cannot exec into pods", verb: "create", resource: "pods", subresource: "exec", namespace: "bookinfo", allowed: false},
	}
	t.Run("controller with a local cluster", func(t *testing.T) {
		checkAccess(ctx, t, api, "system:serviceaccount:platform:edge", local)
	})

	if err := api.ApplyYAML(ctx, egretInstall(t, "--workload-cluster")); err != nil {
		t.Fatalf("workload-cluster RBAC: %v", err)
	}
	t.Run("workload-cluster kubeconfig user", func(t *testing.T) {
		checkAccess(ctx, t, api, "system:serviceaccount:egret-system:egret-remote", []access{
			{name: "patches VirtualServices", verb: "patch", group: istioNet, resource: "virtualservices", namespace: "bookinfo", allowed: true},
			{name: "lists NetworkPolicies to collect garbage", verb: "list", group: "networking.k8s.io", resource: "networkpolicies", allowed: true},
			{name: "cannot read Secrets", verb: "get", resource: "secrets", namespace: "egret-system", allowed: false},
			{name: "cannot read egret's source kinds", verb: "list", group: gloo, resource: "externalservices", allowed: false},
		})
	})
	t.Run("the workload binding does not reach the controller", func(t *testing.T) {
		checkAccess(ctx, t, api, "system:serviceaccount:egret-system:egret", []access{
			{name: "still reads its Secrets", verb: "get", resource: "secrets", namespace: "egret-system", allowed: true},
			{name: "cannot patch ServiceEntries", verb: "patch", group: istioNet, resource: "serviceentries", namespace: "bookinfo", allowed: false},
		})
	})

	t.Run("the pod meets the restricted Pod Security Standard", func(t *testing.T) {
		dep, err := api.Clientset.AppsV1().Deployments("egret-system").Get(ctx, "egret", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "egret-pss", Namespace: "egret-system"}, Spec: dep.Spec.Template.Spec}
		dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
		if _, err := api.Clientset.CoreV1().Pods("egret-system").Create(ctx, pod, dry); err != nil {
			t.Fatalf("the controller's pod is refused in its namespace: %v", err)
		}
		// Control: the same pod allowed to escalate privileges is refused, so enforcement is on.
		bad := pod.DeepCopy()
		bad.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
		_, err = api.Clientset.CoreV1().Pods("egret-system").Create(ctx, bad, dry)
		if err == nil || !strings.Contains(err.Error(), "allowPrivilegeEscalation") {
			t.Fatalf("want the restricted policy to refuse a pod that may escalate, got %v", err)
		}
	})
}
