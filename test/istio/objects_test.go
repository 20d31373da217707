// Package istio checks egret's Istio output with Istio itself: the validating webhook's code
// (istio.io/istio/pkg/config/validation, run through istiod's own webhook handler), a real
// kube-apiserver with Istio's CRDs (schemas and CEL rules), and a real istiod (pilot-discovery)
// whose generated Envoy configuration is read over xDS.
//
// istio.io/istio is imported only from _test.go files here, so egret's binary never links it
// (test/arch checks that cmd/egret does not depend on it).
package istio

import (
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/kubetest"
	render "egret.dev/egret/internal/render/istio"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

// seedObjects are the Istio and Kubernetes objects `egret render istio` makes for the seed's scenario
// (examples/bookinfo-egress, cluster1): the renderer's own output, checked by Istio itself.
func seedObjects(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	snap, err := file.Load([]string{"../../examples/bookinfo-egress"}, file.Options{})
	if err != nil {
		t.Fatalf("load the example: %v", err)
	}
	res := translate.Translate(snap)
	if res.Invalid() {
		t.Fatalf("the example does not translate: %v", res.Problems())
	}
	out, err := render.Render(res.Plan, seedCluster)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	y, err := render.YAML(out)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	rendered, err := kubetest.DecodeYAML(y)
	if err != nil {
		t.Fatalf("rendered objects: %v", err)
	}
	// The namespaces exist in a workload cluster before egret renders into them (the mesh's
	// namespaces, istio-system, the gateway's): the test creates them first, as a cluster has them.
	objs := kubetest.WithNamespaces(rendered)
	if len(objs) == 0 {
		t.Fatal("seed objects: none")
	}
	return objs
}

// handWrittenSeedObjects are the Istio documentation's hand-written equivalent (testdata/seed-istio.yaml),
// kept to show that the checks below hold for what Istio users write today, too.
func handWrittenSeedObjects(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kubetest.DecodeYAML(mustRead(t, "testdata/seed-istio.yaml"))
	if err != nil {
		t.Fatalf("seed objects: %v", err)
	}
	return objs
}

// seedMeshConfig is istiod's MeshConfig for the seed (REGISTRY_ONLY, trust domain cluster1).
func seedMeshConfig(t testing.TB) []byte { return mustRead(t, "testdata/seed-mesh.yaml") }

// seedCluster is the workload cluster the seed objects are for: istiod's cluster ID and the trust
// domain of the principals.
const seedCluster = "cluster1"

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func isIstio(u *unstructured.Unstructured) bool {
	return strings.HasSuffix(u.GroupVersionKind().Group, ".istio.io")
}

func describe(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}
