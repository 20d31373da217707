package controller_test

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/source/kube"
)

// testCRDs are minimal CRDs with the contract's names (spec and status preserve unknown fields, the
// status subresource on). The generated CRDs of deploy/helm/egret/crds replace them at merge: swap the
// body of this one function.
func testCRDs() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, k := range kube.Kinds {
		open := map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": k.Plural + "." + k.Group},
			"spec": map[string]any{
				"group": k.Group,
				"scope": "Namespaced",
				"names": map[string]any{
					"kind":     k.Kind,
					"listKind": k.Kind + "List",
					"plural":   k.Plural,
					"singular": strings.ToLower(k.Kind),
				},
				"versions": []any{map[string]any{
					"name":         k.Version,
					"served":       true,
					"storage":      true,
					"subresources": map[string]any{"status": map[string]any{}},
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object",
						"properties": map[string]any{
							"spec":   open,
							"status": open,
						},
					}},
				}},
			},
		}})
	}
	return out
}
