package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/kubetest"
)

// The seed's scenario through Kubernetes: resources applied to the management cluster become the
// rendered Istio objects of the workload cluster, and follow every later change.
func TestControllerWalksTheSeedScenario(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// Objects made by hand in the workload cluster, which the controller must never touch.
	if _, err := e.work.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bookinfo"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	handMade := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
		"metadata": map[string]any{"name": "hand-made", "namespace": "bookinfo", "labels": map[string]any{"app.kubernetes.io/managed-by": "someone-else"}},
		"spec":     map[string]any{"hosts": []any{"example.org"}, "ports": []any{map[string]any{"number": int64(443), "name": "https", "protocol": "TLS"}}, "resolution": "DNS"},
	}}
	if _, err := e.work.Dynamic.Resource(kubetest.ServiceEntries).Namespace("bookinfo").Create(ctx, handMade, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	e.run(t, "controller", false)
	e.applySeed(t)

	t.Run("the seed's resources become the rendered objects of the workload cluster", func(t *testing.T) {
		eventually(t, 60*time.Second, "rendered objects", func() error {
			checks := []struct {
				what string
				ok   func() (bool, error)
			}{
				{"ServiceEntry", func() (bool, error) {
					return e.exists(kubetest.ServiceEntries, "bookinfo", "externalservice-google-bookinfo")
				}},
				{"Gateway", func() (bool, error) {
					return e.exists(kubetest.Gateways, "gloo-mesh-gateways", "virtualgateway-istio-egressgateway-bookinfo-istio-egressgateway")
				}},
				{"VirtualService", func() (bool, error) {
					return e.exists(kubetest.VirtualServices, "bookinfo", "externalservice-google-bookinfo-www-google-com")
				}},
				{"DestinationRule", func() (bool, error) {
					return e.exists(kubetest.DestinationRules, "gloo-mesh-gateways", "externalservice-google-bookinfo-www-google-com")
				}},
			}
			for _, c := range checks {
				ok, err := c.ok()
				if err != nil || !ok {
					return fmt.Errorf("%s missing (%v)", c.what, err)
				}
			}
			return e.hasPrincipal("bookinfo-productpage")()
		})
		eventually(t, 30*time.Second, "status", e.wantCondition(kubetest.ExternalServices, "google", "Programmed", "True", "Programmed", "cluster1"))
		eventually(t, 30*time.Second, "status", e.wantCondition(kubetest.AccessPolicies, "egress-access-productpage", "Accepted", "True", "Accepted", ""))
	})

	t.Run("a pass with nothing new writes nothing", func(t *testing.T) {
		n := e.settled(t)
		time.Sleep(4 * time.Second) // a resync every second: several passes
		if w := e.writes.since(n); len(w) > 0 {
			t.Fatalf("passes with no change wrote %d times: %v", len(w), w)
		}
	})

	t.Run("editing the AccessPolicy changes the AuthorizationPolicy", func(t *testing.T) {
		e.setAllowedClient(t, "bookinfo-reviews")
		eventually(t, 30*time.Second, "new principal", e.hasPrincipal("bookinfo-reviews"))
		if err := e.hasPrincipal("bookinfo-productpage")(); err == nil {
			t.Fatal("the old principal is still allowed")
		}
	})

	t.Run("an invalid new resource is reported on itself and changes nothing else", func(t *testing.T) {
		n := e.settled(t)
		// Two ports named alike: the CRD schema cannot say it (it is refused after the object is stored).
		bad := `{"apiVersion":"networking.gloo.solo.io/v2","kind":"ExternalService","metadata":{"name":"bad","namespace":"bookinfo"},"spec":{"hosts":["bad.example"],"ports":[{"name":"http","number":80,"protocol":"HTTP"},{"name":"http","number":8080,"protocol":"HTTP"}]}}`
		if err := e.mgmt.ApplyYAML(ctx, []byte(bad)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "Accepted=False", e.wantCondition(kubetest.ExternalServices, "bad", "Accepted", "False", "Invalid", "already the name of spec.ports[0]"))
		eventually(t, 30*time.Second, "an event", e.mgmt.HasWarningEvent("bad", "Invalid"))
		for _, w := range e.writes.since(n) {
			if w != " status ExternalService bookinfo/bad" {
				t.Errorf("unexpected write: %s", w)
			}
		}
		if err := e.hasPrincipal("bookinfo-reviews")(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("an AccessPolicy made invalid keeps its last valid version applied", func(t *testing.T) {
		// An unexpanded variable is a valid string to the schema; egret's decoder refuses it.
		e.patch(t, kubetest.AccessPolicies, "egress-access-productpage", `{"spec":{"config":{"authz":{"allowedClients":[{"serviceAccountSelector":{"name":"${SERVICE_ACCOUNT}"}}]}}}}`)
		eventually(t, 30*time.Second, "Accepted=False", e.wantCondition(kubetest.AccessPolicies, "egress-access-productpage", "Accepted", "False", "Invalid", "stays applied"))
		time.Sleep(2 * time.Second)
		if err := e.hasPrincipal("bookinfo-reviews")(); err != nil {
			t.Fatalf("the AuthorizationPolicy lost its last valid version: %v", err)
		}
		e.setAllowedClient(t, "bookinfo-reviews") // valid again
		eventually(t, 30*time.Second, "Accepted=True", e.wantCondition(kubetest.AccessPolicies, "egress-access-productpage", "Accepted", "True", "Accepted", ""))
	})

	t.Run("the workload cluster's API server restarted mid-way converges", func(t *testing.T) {
		e.work.StopAPI()
		e.setAllowedClient(t, "bookinfo-ratings")
		eventually(t, 60*time.Second, "ApplyFailed", e.wantCondition(kubetest.AccessPolicies, "egress-access-productpage", "Programmed", "False", "ApplyFailed", "cluster1"))
		e.work.StartAPI(t)
		eventually(t, 60*time.Second, "converged", e.hasPrincipal("bookinfo-ratings"))
		eventually(t, 30*time.Second, "Programmed again", e.wantCondition(kubetest.AccessPolicies, "egress-access-productpage", "Programmed", "True", "Programmed", "cluster1"))
	})

	t.Run("deleting the ExternalService removes its objects and nothing else", func(t *testing.T) {
		if err := e.mgmt.Dynamic.Resource(kubetest.ExternalServices).Namespace("bookinfo").Delete(ctx, "google", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "objects gone", func() error {
			if ok, err := e.exists(kubetest.ServiceEntries, "bookinfo", "externalservice-google-bookinfo"); ok || err != nil {
				return fmt.Errorf("ServiceEntry still there (%v)", err)
			}
			if ok, err := e.exists(kubetest.VirtualServices, "bookinfo", "externalservice-google-bookinfo-www-google-com"); ok || err != nil {
				return fmt.Errorf("VirtualService still there (%v)", err)
			}
			return nil
		})
		if ok, err := e.exists(kubetest.ServiceEntries, "bookinfo", "hand-made"); !ok {
			t.Fatalf("the hand-made ServiceEntry was removed (%v)", err)
		}
		if _, err := e.work.Clientset.CoreV1().Namespaces().Get(ctx, "bookinfo", metav1.GetOptions{}); err != nil {
			t.Fatalf("namespace bookinfo: %v", err)
		}
	})
}
