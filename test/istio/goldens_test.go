package istio

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/kubetest"
)

// goldenObjects are the objects of every golden rendering (internal/render/istio/testdata/*.istio.yaml:
// the seed, wildcards, MUTUAL origination, ExternalEndpoints, Workspaces, and every RouteTable shape),
// by golden file, each file's namespaces first.
func goldenObjects(t *testing.T) map[string][]*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob("../../internal/render/istio/testdata/*.istio.yaml")
	if err != nil || len(files) < 7 {
		t.Fatalf("golden renderings: %v (found %d)", err, len(files))
	}
	out := map[string][]*unstructured.Unstructured{}
	for _, f := range files {
		objs, err := kubetest.DecodeYAML(mustRead(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".istio.yaml")] = kubetest.WithNamespaces(objs)
	}
	return out
}

func TestEveryGoldenObjectPassesIstiosValidatingWebhook(t *testing.T) {
	wh := newIstioWebhook(t)
	for name, objs := range goldenObjects(t) {
		n := wh.reviewEach(t, name, objs)
		if n == 0 {
			t.Errorf("%s: no Istio objects", name)
		}
	}
}

// TestEveryGoldenObjectLoadsIntoKubeAPIServerWithIstiosCRDs applies each golden rendering to one real
// kube-apiserver with Istio's CRDs (clusters of different goldens share namespaces; the objects of one
// golden replace those of another with the same name, which the server judges all the same).
func TestEveryGoldenObjectLoadsIntoKubeAPIServerWithIstiosCRDs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	api := kubetest.StartAPIServer(t, "goldens")
	api.LoadIstioCRDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for name, objs := range goldenObjects(t) {
		t.Run(name, func(t *testing.T) {
			for _, u := range objs {
				if err := api.Apply(ctx, []*unstructured.Unstructured{u}); err != nil {
					t.Errorf("the API server rejects %s: %v", describe(u), err)
				}
			}
		})
	}
}
