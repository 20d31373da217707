package kube

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/api"
)

func TestKindsCoverEveryDecodedKind(t *testing.T) {
	var got []string
	for _, k := range Kinds {
		got = append(got, k.Kind)
	}
	slices.Sort(got)
	if want := api.KnownKinds(); !slices.Equal(got, want) {
		t.Fatalf("Kinds %v, api.KnownKinds %v", got, want)
	}
}

func TestObjectsDecodeAsFilesDo(t *testing.T) {
	tests := []struct {
		name    string
		spec    map[string]any
		problem string
	}{
		{name: "a valid object decodes without problems", spec: map[string]any{"hosts": []any{"www.google.com"},
			"ports": []any{map[string]any{"name": "https", "number": int64(443), "protocol": "HTTPS"}}}},
		{name: "an unknown field is an error naming the object's kubernetes name and field", spec: map[string]any{"hostz": []any{"x"}},
			problem: "kubernetes:ExternalService/bookinfo/google"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": api.NetworkingV2, "kind": api.KindExternalService,
				"metadata": map[string]any{"name": "google", "namespace": "bookinfo", "generation": int64(4), "uid": "x", "resourceVersion": "9",
					"managedFields": []any{map[string]any{"manager": "kubectl"}}},
				"spec":   tc.spec,
				"status": map[string]any{"observedGeneration": int64(3)},
			}}
			o, err := NewObject(u)
			if err != nil {
				t.Fatal(err)
			}
			objs, ps := Decode(o.File, o.Data)
			if tc.problem == "" {
				if len(ps) > 0 || len(objs) != 1 || o.Generation != 4 || o.Ref != "ExternalService bookinfo/google" {
					t.Fatalf("objs %d, problems %v, object %+v", len(objs), ps, o)
				}
				return
			}
			if len(ps) == 0 || !slices.ContainsFunc(ps, func(p api.Problem) bool { return p.Source.File == tc.problem && p.Path == "spec.hostz" }) {
				t.Fatalf("problems %v", ps)
			}
		})
	}
}
