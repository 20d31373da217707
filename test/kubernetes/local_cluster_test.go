package kubernetes

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"egret.dev/egret/internal/kubetest"
)

// TestInstalledControllerWithLocalCluster: with --local-cluster the management cluster is also the
// workload cluster. `egret install --dry-run --local-cluster cluster1` then binds the workload
// ClusterRole to the controller's ServiceAccount, and that binding is all the controller has to apply,
// and garbage-collect, the seed's objects beside the resources they come from.
func TestInstalledControllerWithLocalCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	api := kubetest.StartAPIServer(t, "management")
	c := cluster{api}
	ctx := context.Background()
	api.LoadIstioCRDs(t)
	installManagement(t, api, "--local-cluster", "cluster1")
	runController(t, asServiceAccount(t, api, ns, sa), "cluster1", "")
	applySeed(t, api)

	t.Run("the seed's objects are applied to the same cluster, Programmed there", func(t *testing.T) {
		eventually(t, 90*time.Second, "rendered objects", c.rendered)
		eventually(t, 30*time.Second, "productpage allowed", c.hasPrincipal("bookinfo-productpage"))
		eventually(t, 30*time.Second, "status", c.wantCondition(kubetest.ExternalServices, "google", "Programmed", "True", "Programmed", "cluster1"))
	})

	t.Run("deleting the ExternalService removes its objects and keeps the source resources", func(t *testing.T) {
		if err := api.Dynamic.Resource(kubetest.ExternalServices).Namespace("bookinfo").Delete(ctx, "google", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "ServiceEntry gone", func() error {
			if ok, err := c.Exists(kubetest.ServiceEntries, "bookinfo", "externalservice-google-bookinfo"); ok || err != nil {
				return fmt.Errorf("ServiceEntry still there (%v)", err)
			}
			return nil
		})
		if ok, err := c.Exists(kubetest.AccessPolicies, "bookinfo", "egress-access-productpage"); !ok {
			t.Fatalf("the AccessPolicy went too (%v)", err)
		}
		if _, err := api.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{}); err != nil {
			t.Fatalf("the controller's own ServiceAccount: %v", err)
		}
	})
}
