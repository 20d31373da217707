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
)

// seedObjects are the Istio and Kubernetes objects for the seed's scenario
// (examples/bookinfo-egress, cluster1). Until `egret render istio` is merged they are the
// hand-written equivalent in testdata/seed-istio.yaml.
//
// To check the renderer instead, replace the body's first line with the renderer's output, e.g.
//
//	objs, err := kubetest.ToUnstructured(renderedObjects) // []runtime.Object
//	objs, err := kubetest.DecodeYAML(renderedYAML)         // or YAML bytes
func seedObjects(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kubetest.DecodeYAML(mustRead(t, "testdata/seed-istio.yaml"))
	if err != nil {
		t.Fatalf("seed objects: %v", err)
	}
	if len(objs) == 0 {
		t.Fatal("seed objects: none")
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
