package install

import (
	"bytes"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Manifest is one object as plain JSON values: what `kubectl apply` reads, without the empty status
// and creation timestamps that Go's zero values would add. The object must have its TypeMeta set.
func Manifest(obj runtime.Object) (map[string]any, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	name := fmt.Sprintf("%T", obj)
	if a, err := meta.Accessor(obj); err == nil {
		name = a.GetNamespace() + "/" + a.GetName()
	}
	if gvk.Kind == "" || gvk.Version == "" {
		return nil, fmt.Errorf("%T %s: no apiVersion/kind (TypeMeta) set", obj, name)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", gvk.Kind, name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	deleteTimestamp(m)
	if spec, ok := m["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			deleteTimestamp(tmpl)
		}
	}
	return m, nil
}

func deleteTimestamp(m map[string]any) {
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
}

// YAML writes the objects as one multi-document stream.
func YAML(objs []runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, obj := range objs {
		m, err := Manifest(obj)
		if err != nil {
			return nil, err
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// JSON writes the objects as a Kubernetes List (kind: List), which kubectl applies as it is.
func JSON(objs []runtime.Object) ([]byte, error) {
	items := []any{}
	for _, obj := range objs {
		m, err := Manifest(obj)
		if err != nil {
			return nil, err
		}
		items = append(items, m)
	}
	b, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// RuntimeObjects converts a []Object for YAML and JSON.
func RuntimeObjects(objs []Object) []runtime.Object {
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}
