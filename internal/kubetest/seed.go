package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The seed scenario (examples/bookinfo-egress) as the controller tests walk it through Kubernetes: its
// source objects live in namespace bookinfo; its AccessPolicy renders an AuthorizationPolicy in the
// gateways' namespace.
const (
	SeedNamespace    = "bookinfo"
	seedAccessPolicy = "egress-access-productpage"
)

// The kinds the controller tests read: the rendered Istio objects of a workload cluster and the seed's
// source objects in the management cluster.
var (
	AuthorizationPolicies = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}
	ServiceEntries        = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}
	VirtualServices       = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	DestinationRules      = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	Gateways              = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	AccessPolicies        = schema.GroupVersionResource{Group: "security.policy.gloo.solo.io", Version: "v2", Resource: "accesspolicies"}
	ExternalServices      = schema.GroupVersionResource{Group: "networking.gloo.solo.io", Version: "v2", Resource: "externalservices"}
)

// The seed's proxies as a test pretends to be them when it asks istiod for their configuration. Their IPs
// are only names in istiod's model; nothing dials them.
var (
	SeedGatewayProxy = Proxy{
		Type: "router", IP: "10.244.1.10", Pod: "istio-egressgateway-7d4f9c-abcde", Namespace: "gloo-mesh-gateways",
		ServiceAccount: "istio-egressgateway",
		Labels:         map[string]string{"istio": "egressgateway", "app": "istio-egressgateway", "traffic": "egress"},
	}
	SeedProductpageProxy = Proxy{
		Type: "sidecar", IP: "10.244.2.20", Pod: "productpage-v1-5f8d6-fghij", Namespace: "bookinfo",
		ServiceAccount: "bookinfo-productpage",
		Labels:         map[string]string{"app": "productpage", "version": "v1"},
	}
	// SeedGatewayService matches the egress gateway's Service host, revisioned or not (istio-egressgateway-1-25).
	SeedGatewayService = regexp.MustCompile(`^istio-egressgateway(-[a-z0-9-]+)?\.gloo-mesh-gateways\.svc\.cluster\.local$`)
)

// Eventually polls check until it returns nil, failing the test with its last error after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ApplySeed applies every *.yaml of dir (the seed's example directory) as this server's admin, creating
// the namespaces the seed's objects live in first.
func (s *APIServer) ApplySeed(t testing.TB, dir string) {
	t.Helper()
	ctx := context.Background()
	for _, n := range []string{SeedNamespace, "gloo-mesh"} {
		if err := s.EnsureNamespace(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no seed files in %s", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyYAML(ctx, b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// Exists says whether the object is there.
func (s *APIServer) Exists(gvr schema.GroupVersionResource, namespace, name string) (bool, error) {
	_, err := s.Dynamic.Resource(gvr).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// SeedPrincipals are the principals of the AuthorizationPolicy rendered from the seed's AccessPolicy.
func (s *APIServer) SeedPrincipals() ([]string, error) {
	l, err := s.Dynamic.Resource(AuthorizationPolicies).Namespace("gloo-mesh-gateways").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, u := range l.Items {
		if !strings.HasPrefix(u.GetName(), "accesspolicy-"+seedAccessPolicy+"-") {
			continue
		}
		var out []string
		rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
		for _, r := range rules {
			from, _, _ := unstructured.NestedSlice(r.(map[string]any), "from")
			for _, f := range from {
				ps, _, _ := unstructured.NestedStringSlice(f.(map[string]any), "source", "principals")
				out = append(out, ps...)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no AuthorizationPolicy for the seed's AccessPolicy")
}

// HasSeedPrincipal checks that the seed's AuthorizationPolicy allows service account sa.
func (s *APIServer) HasSeedPrincipal(sa string) func() error {
	return func() error {
		ps, err := s.SeedPrincipals()
		if err != nil {
			return err
		}
		for _, p := range ps {
			if strings.HasSuffix(p, "/sa/"+sa) {
				return nil
			}
		}
		return fmt.Errorf("principals %v lack service account %s", ps, sa)
	}
}

// Condition is the status condition typ of a source object in SeedNamespace, once the status is of the
// object's generation.
func (s *APIServer) Condition(gvr schema.GroupVersionResource, name, typ string) (map[string]any, error) {
	u, err := s.Dynamic.Resource(gvr).Namespace(SeedNamespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); og != u.GetGeneration() {
		return nil, fmt.Errorf("observedGeneration %d, generation %d", og, u.GetGeneration())
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if cm := c.(map[string]any); cm["type"] == typ {
			return cm, nil
		}
	}
	return nil, fmt.Errorf("%s %s has no %s condition yet", gvr.Resource, name, typ)
}

// WantCondition checks that a source object's condition typ has status and reason, and a message
// containing msgPart.
func (s *APIServer) WantCondition(gvr schema.GroupVersionResource, name, typ, status, reason, msgPart string) func() error {
	return func() error {
		c, err := s.Condition(gvr, name, typ)
		if err != nil {
			return err
		}
		if c["status"] != status || c["reason"] != reason || !strings.Contains(fmt.Sprint(c["message"]), msgPart) {
			return fmt.Errorf("%s: %v", typ, c)
		}
		return nil
	}
}

// MergePatch applies a JSON merge patch to a source object in SeedNamespace.
func (s *APIServer) MergePatch(t testing.TB, gvr schema.GroupVersionResource, name, patch string) {
	t.Helper()
	if _, err := s.Dynamic.Resource(gvr).Namespace(SeedNamespace).Patch(context.Background(), name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// SetSeedAllowedClient makes the seed's AccessPolicy allow exactly service account sa.
func (s *APIServer) SetSeedAllowedClient(t testing.TB, sa string) {
	t.Helper()
	s.MergePatch(t, AccessPolicies, seedAccessPolicy,
		fmt.Sprintf(`{"spec":{"config":{"authz":{"allowedClients":[{"serviceAccountSelector":{"name":%q}}]}}}}`, sa))
}

// HasWarningEvent checks that a Warning event with reason is recorded about the object name in
// SeedNamespace (as kubectl describe lists them: core v1 Events, which events.k8s.io/v1 events are too).
func (s *APIServer) HasWarningEvent(name, reason string) func() error {
	return func() error {
		evs, err := s.Clientset.CoreV1().Events(SeedNamespace).List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
		if err != nil {
			return err
		}
		for _, ev := range evs.Items {
			if ev.Type == corev1.EventTypeWarning && ev.Reason == reason {
				return nil
			}
		}
		return fmt.Errorf("no Warning/%s event for %s/%s: %v", reason, SeedNamespace, name, evs.Items)
	}
}
