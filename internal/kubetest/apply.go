package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side-apply field manager the harness applies as.
const FieldManager = "egret-test"

// WithNamespaces returns objs preceded by a Namespace object for each namespace they name (once each,
// in order of first use), so that applying the list in order creates each namespace before what is in it.
func WithNamespaces(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	seen := map[string]bool{}
	for _, u := range objs {
		if ns := u.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			n := &unstructured.Unstructured{}
			n.SetAPIVersion("v1")
			n.SetKind("Namespace")
			n.SetName(ns)
			out = append(out, n)
		}
	}
	return append(out, objs...)
}

// DecodeYAML splits a multi-document YAML (or JSON) stream into objects, skipping empty documents.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "List" {
			items, _, _ := unstructured.NestedSlice(m, "items")
			for _, it := range items {
				if im, ok := it.(map[string]any); ok {
					out = append(out, &unstructured.Unstructured{Object: im})
				}
			}
			continue
		}
		out = append(out, u)
	}
}

// Apply server-side-applies every object (force, as FieldManager) in order and returns the first
// error, which names the object. The API server's schema and CEL validation of CRDs run here.
func (s *APIServer) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memCache(s))
	for _, u := range objs {
		if err := s.applyOne(ctx, mapper, u); err != nil {
			return err
		}
	}
	return nil
}

// ApplyYAML is Apply for a YAML stream.
func (s *APIServer) ApplyYAML(ctx context.Context, data []byte) error {
	objs, err := DecodeYAML(data)
	if err != nil {
		return err
	}
	return s.Apply(ctx, objs)
}

func (s *APIServer) applyOne(ctx context.Context, mapper *restmapper.DeferredDiscoveryRESTMapper, u *unstructured.Unstructured) error {
	gvk := u.GroupVersionKind()
	id := fmt.Sprintf("%s %s", gvk.Kind, nsName(u))
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		mapper.Reset() // a CRD applied just before may not be in the cached discovery yet
		m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	body, err := u.MarshalJSON()
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	ri := s.Dynamic.Resource(m.Resource)
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if u.GetNamespace() == "" {
			return fmt.Errorf("%s: namespaced kind without metadata.namespace", id)
		}
		_, err = ri.Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, body, opts)
	} else {
		_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, opts)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if gvk.Kind == "CustomResourceDefinition" {
		return s.waitEstablished(ctx, u.GetName())
	}
	return nil
}

func (s *APIServer) waitEstablished(ctx context.Context, name string) error {
	crds := s.Dynamic.Resource(crdGVR)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		got, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				cm, _ := c.(map[string]any)
				if cm["type"] == "Established" && cm["status"] == "True" {
					return nil
				}
			}
		} else if !apierrors.IsNotFound(err) {
			return fmt.Errorf("CRD %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s: not Established: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LoadIstioCRDs applies Istio's CRDs (crd-all.gen.yaml from the istio.io/istio module the main
// module requires) and waits until each is Established.
func (s *APIServer) LoadIstioCRDs(t testing.TB) {
	t.Helper()
	path := IstioCRDFile(t)
	data, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.ApplyYAML(ctx, data); err != nil {
		t.Fatalf("Istio CRDs from %s: %v", path, err)
	}
}

// IstioCRDFile is the path of manifests/charts/base/files/crd-all.gen.yaml inside the
// istio.io/istio module that egret's go.mod requires (its tests import that module), found with
// `go list -m`. The file is read from the module cache, so it always matches the istio version the
// validation tests and istiod are built from.
func IstioCRDFile(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/istio").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("locating the istio.io/istio module (go list -m): %v %s", err, msg)
	}
	return filepath.Join(dir, "manifests", "charts", "base", "files", "crd-all.gen.yaml")
}

func nsName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

func ptr[T any](v T) *T { return &v }
