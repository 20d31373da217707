package controller_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"egret.dev/egret/internal/crd"
)

// testCRDs are the CRDs the chart installs (internal/crd generates them), so the controller is tested
// against the schemas users get: what a schema can refuse never reaches the controller.
func testCRDs(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	crds, err := crd.All()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*unstructured.Unstructured, len(crds))
	for i, c := range crds {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
		if err != nil {
			t.Fatal(err)
		}
		delete(m, "status")
		out[i] = &unstructured.Unstructured{Object: m}
	}
	return out
}
