package kubernetes

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/kubetest"
)

// TestInstalledControllerWalksTheSeedScenario is issue 14's "Done when": two real API servers; the
// management cluster gets the CRDs and RBAC exactly as `egret install --dry-run` prints them; the
// controller runs as the chart's ServiceAccount (so the install's RBAC is what lets it work), and
// reaches the workload cluster only as egret-remote of deploy/workload-cluster-rbac.yaml; the seed's
// scenario then goes through Kubernetes to the rendered Istio objects, their status, an edit, an
// invalid resource and garbage collection. istiod, run on the workload cluster, turns the
// controller's output into the Envoy configuration the seed intends.
func TestInstalledControllerWalksTheSeedScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two etcd + kube-apiserver pairs")
	}
	mgmtAPI := kubetest.StartAPIServer(t, "management")
	workAPI := kubetest.StartAPIServer(t, "cluster1")
	mgmt, work := cluster{mgmtAPI}, cluster{workAPI}
	ctx := context.Background()

	installManagement(t, mgmtAPI)
	installWorkload(t, workAPI)
	if err := mgmtAPI.Apply(ctx, []*unstructured.Unstructured{workloadSecret("cluster1", remoteKubeconfig(t, workAPI, "cluster1"))}); err != nil {
		t.Fatalf("workload-cluster Secret: %v", err)
	}

	admin := freeAddr(t)
	runController(t, asServiceAccount(t, mgmtAPI, ns, sa), "", admin)

	t.Run("the admin port answers /healthz, and /readyz once the caches synced", func(t *testing.T) {
		eventually(t, 60*time.Second, "/healthz", func() error { return httpGet("http://"+admin+"/healthz", "ok") })
		eventually(t, 60*time.Second, "/readyz", func() error { return httpGet("http://"+admin+"/readyz", "ok") })
	})

	t.Run("the controller takes the Lease as the chart's ServiceAccount", func(t *testing.T) {
		eventually(t, 60*time.Second, "Lease", func() error {
			l, err := mgmtAPI.Clientset.CoordinationV1().Leases(ns).Get(ctx, "egret-controller", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
				return fmt.Errorf("Lease egret-controller has no holder")
			}
			return nil
		})
	})

	applySeed(t, mgmtAPI)

	t.Run("the seed's resources become the rendered objects of the workload cluster, Programmed", func(t *testing.T) {
		eventually(t, 90*time.Second, "rendered objects", work.rendered)
		eventually(t, 30*time.Second, "productpage allowed", work.hasPrincipal("bookinfo-productpage"))
		eventually(t, 30*time.Second, "status", mgmt.wantCondition(kubetest.ExternalServices, "google", "Accepted", "True", "Accepted", ""))
		eventually(t, 30*time.Second, "status", mgmt.wantCondition(kubetest.ExternalServices, "google", "Programmed", "True", "Programmed", "cluster1"))
		eventually(t, 30*time.Second, "status", mgmt.wantCondition(kubetest.AccessPolicies, "egress-access-productpage", "Programmed", "True", "Programmed", "cluster1"))
	})

	t.Run("/metrics serves the controller's reconcile counters", func(t *testing.T) {
		eventually(t, 30*time.Second, "/metrics", func() error {
			return httpGet("http://"+admin+"/metrics", `controller_runtime_reconcile_total{controller="egret",result="success"}`)
		})
	})

	t.Run("istiod makes the seed's Envoy configuration from the controller's output", func(t *testing.T) {
		istiodOnWorkloadCluster(t, workAPI)
	})

	t.Run("editing the AccessPolicy changes the AuthorizationPolicy", func(t *testing.T) {
		mgmt.setAllowedClient(t, "bookinfo-reviews")
		eventually(t, 30*time.Second, "new principal", work.hasPrincipal("bookinfo-reviews"))
		if err := work.hasPrincipal("bookinfo-productpage")(); err == nil {
			t.Fatal("the old principal is still allowed")
		}
	})

	t.Run("an invalid resource is reported on itself", func(t *testing.T) {
		bad := `{"apiVersion":"networking.gloo.solo.io/v2","kind":"ExternalService","metadata":{"name":"bad","namespace":"bookinfo"},"spec":{"hosts":["bad.example"],"ports":[{"name":"http","number":80,"protocol":"HTTP"},{"name":"http","number":8080,"protocol":"HTTP"}]}}`
		if err := mgmtAPI.ApplyYAML(ctx, []byte(bad)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "Accepted=False", mgmt.wantCondition(kubetest.ExternalServices, "bad", "Accepted", "False", "Invalid", "already the name of spec.ports[0]"))
		// The event is written as the chart's ServiceAccount: the install's events rule allows it.
		eventually(t, 30*time.Second, "a Warning event", mgmtAPI.HasWarningEvent("bad", "Invalid"))
		if err := work.hasPrincipal("bookinfo-reviews")(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("deleting the ExternalService removes its objects from the workload cluster", func(t *testing.T) {
		if err := mgmtAPI.Dynamic.Resource(kubetest.ExternalServices).Namespace("bookinfo").Delete(ctx, "google", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "objects gone", func() error {
			for _, o := range []struct{ gvr, name string }{{"ServiceEntry", "externalservice-google-bookinfo"}, {"VirtualService", "externalservice-google-bookinfo-www-google-com"}} {
				gvr := kubetest.ServiceEntries
				if o.gvr == "VirtualService" {
					gvr = kubetest.VirtualServices
				}
				if ok, err := work.Exists(gvr, "bookinfo", o.name); ok || err != nil {
					return fmt.Errorf("%s %s still there (%v)", o.gvr, o.name, err)
				}
			}
			return nil
		})
	})
}

// httpGet fetches url and wants a 200 whose body contains want.
func httpGet(url, want string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	if !strings.Contains(string(b), want) {
		return fmt.Errorf("GET %s: no %q in %d bytes", url, want, len(b))
	}
	return nil
}
