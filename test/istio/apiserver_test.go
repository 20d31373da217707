package istio

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/kubetest"
)

// TestEverySeedObjectLoadsIntoKubeAPIServerWithIstiosCRDs applies every seed object to a real
// kube-apiserver that has Istio's CRDs (crd-all.gen.yaml from the istio.io/istio module): the
// OpenAPI schemas and CEL rules of those CRDs judge each Istio object, and the core schemas the
// Kubernetes ones. A broken ServiceEntry must be rejected, so the check is known to bite.
func TestEverySeedObjectLoadsIntoKubeAPIServerWithIstiosCRDs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	api := kubetest.StartAPIServer(t, seedCluster)
	api.LoadIstioCRDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for _, u := range seedObjects(t) {
		t.Run(describe(u), func(t *testing.T) {
			if err := api.Apply(ctx, []*unstructured.Unstructured{u}); err != nil {
				t.Fatalf("the API server rejects %s: %v", describe(u), err)
			}
		})
	}

	t.Run("a ServiceEntry the CRD's rules forbid is rejected", func(t *testing.T) {
		err := api.ApplyYAML(ctx, []byte(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: broken, namespace: bookinfo}
spec:
  hosts: []
  ports: [{number: 70000, name: http, protocol: HTTP}]
`))
		if err == nil {
			t.Fatal("the API server accepted a ServiceEntry without hosts and with port 70000")
		}
		for _, want := range []string{"spec.hosts", "spec.ports[0].number"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("rejection does not name %s: %v", want, err)
			}
		}
	})
}
