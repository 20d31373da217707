// Package kube reads egret's resources from the custom resources of a Kubernetes cluster, turning each
// object into the same input a file holds so that it is decoded and validated exactly as `egret
// validate` does.
package kube

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"egret.dev/egret/internal/api"
)

// Kind is one resource kind egret reads from Kubernetes, as its CRD serves it.
type Kind struct {
	Kind, Group, Version, Plural string
}

// GVK is the kind's group, version and kind.
func (k Kind) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// Kinds are the kinds the controller watches: every kind api.Decode reads (the contract of
// docs/kubernetes.md: plural = lowercase kind + "s", with three exceptions).
var Kinds = []Kind{
	{api.KindVirtualGateway, "networking.gloo.solo.io", "v2", "virtualgateways"},
	{api.KindExternalService, "networking.gloo.solo.io", "v2", "externalservices"},
	{api.KindExternalEndpoint, "networking.gloo.solo.io", "v2", "externalendpoints"},
	{api.KindRouteTable, "networking.gloo.solo.io", "v2", "routetables"},
	{api.KindAccessPolicy, "security.policy.gloo.solo.io", "v2", "accesspolicies"},
	{api.KindGatewayLifecycleManager, "admin.gloo.solo.io", "v2", "gatewaylifecyclemanagers"},
	{api.KindIstioLifecycleManager, "admin.gloo.solo.io", "v2", "istiolifecyclemanagers"},
	{api.KindWorkspace, "admin.gloo.solo.io", "v2", "workspaces"},
	{api.KindWorkspaceSettings, "admin.gloo.solo.io", "v2", "workspacesettings"},
	{api.KindMesh, "egret.dev", "v1alpha1", "meshes"},
	{api.KindWorkload, "egret.dev", "v1alpha1", "workloads"},
}

// Object is one custom resource as read from the cluster, before decoding.
type Object struct {
	// Ref is "Kind namespace/name", as api.Ref and translation statuses name it.
	Ref string
	// File is the name problems are reported against: kubernetes:Kind/namespace/name.
	File string
	// Generation is metadata.generation: what status.observedGeneration answers.
	Generation int64
	// Data is the input api.Decode reads: apiVersion, kind, metadata (name, namespace, labels,
	// annotations) and every other top-level field but status, as YAML.
	Data []byte
	// Live is the object as the cluster returned it (for status updates and events).
	Live *unstructured.Unstructured
}

// Source lists egret's kinds through a client (a controller-runtime cache in the controller).
type Source struct {
	reader  client.Reader
	changed chan struct{}
}

// New reads through r.
func New(r client.Reader) *Source {
	return &Source{reader: r, changed: make(chan struct{}, 1)}
}

// Changed receives after Notify.
func (s *Source) Changed() <-chan struct{} { return s.changed }

// Notify says the resources may have changed (the controller's watch calls it on every event).
func (s *Source) Notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// List returns every object of every kind, sorted by kind order then namespace and name.
func (s *Source) List(ctx context.Context) ([]Object, error) {
	var out []Object
	for _, k := range Kinds {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(k.GVK().GroupVersion().WithKind(k.Kind + "List"))
		if err := s.reader.List(ctx, l); err != nil {
			return nil, fmt.Errorf("listing %s: %w", k.Plural+"."+k.Group, err)
		}
		items := l.Items
		sort.Slice(items, func(i, j int) bool {
			a, b := &items[i], &items[j]
			if a.GetNamespace() != b.GetNamespace() {
				return a.GetNamespace() < b.GetNamespace()
			}
			return a.GetName() < b.GetName()
		})
		for i := range items {
			o, err := NewObject(&items[i])
			if err != nil {
				return nil, err
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// NewObject turns a live object into decoder input.
func NewObject(u *unstructured.Unstructured) (Object, error) {
	in := map[string]any{}
	for k, v := range u.Object {
		if k != "status" && k != "metadata" {
			in[k] = v
		}
	}
	md := map[string]any{"name": u.GetName()}
	if ns := u.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	if l := u.GetLabels(); len(l) > 0 {
		md["labels"] = l
	}
	if a := u.GetAnnotations(); len(a) > 0 {
		md["annotations"] = a
	}
	in["metadata"] = md
	data, err := yaml.Marshal(in)
	if err != nil {
		return Object{}, fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	ref := u.GetKind() + " " + u.GetName()
	path := u.GetKind() + "/" + u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		ref = u.GetKind() + " " + ns + "/" + u.GetName()
		path = u.GetKind() + "/" + ns + "/" + u.GetName()
	}
	return Object{Ref: ref, File: "kubernetes:" + path, Generation: u.GetGeneration(), Data: data, Live: u}, nil
}

// Decode decodes one object's input exactly as a file's contents are decoded, and defaults it.
func Decode(file string, data []byte) ([]api.Object, []api.Problem) {
	objs, ps := api.Decode(file, data)
	for _, o := range objs {
		api.SetDefaults(o)
	}
	return objs, ps
}

// Load decodes every object into one snapshot; like file.LoadContext, the error is an api.Problems
// listing every decode problem, returned with the snapshot of what did decode.
func (s *Source) Load(ctx context.Context) (*api.Snapshot, error) {
	objs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	snap := &api.Snapshot{}
	var problems api.Problems
	for _, o := range objs {
		decoded, ps := Decode(o.File, o.Data)
		problems = append(problems, ps...)
		for _, d := range decoded {
			snap.Add(d)
		}
	}
	if len(problems) > 0 {
		return snap, problems
	}
	return snap, nil
}
