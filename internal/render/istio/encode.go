package istio

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// Manifest is one object as plain JSON values: what `kubectl apply` reads, without the empty status and
// creation timestamp that Go's zero values would add.
func Manifest(obj Object) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			if md, ok := tmpl["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
		}
	}
	return m, nil
}

// YAML writes the objects of the outputs as one multi-document stream, each cluster's objects after a
// comment naming it.
func YAML(outs ...*Output) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range outs {
		for _, obj := range o.Objects() {
			m, err := Manifest(obj)
			if err != nil {
				return nil, err
			}
			y, err := yaml.Marshal(m)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&buf, "---\n# cluster: %s\n", o.Cluster)
			buf.Write(y)
		}
	}
	return buf.Bytes(), nil
}

// JSON writes the objects as a Kubernetes List (kind: List), which kubectl applies as it is.
func JSON(outs ...*Output) ([]byte, error) {
	items := []any{}
	for _, o := range outs {
		for _, obj := range o.Objects() {
			m, err := Manifest(obj)
			if err != nil {
				return nil, err
			}
			items = append(items, m)
		}
	}
	return json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
}
