package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"

	"egret.dev/egret/internal/render/istio"
)

const (
	// FieldManager is the server-side-apply field manager of every write to a workload cluster.
	FieldManager = "egret"
	// ManagedByLabel marks what the controller owns in a workload cluster; it deletes only objects with
	// this label, and only when it no longer renders them.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	managedByValue = "egret"
	// HashAnnotation is the hash of the rendered object as last applied; an object whose annotation
	// matches what is rendered now is not written again, so a pass with nothing new writes nothing.
	HashAnnotation = "egret.dev/rendered-hash"
)

// ownedKinds are the kinds istio.Render produces: listed (by ManagedByLabel) in each workload
// cluster to find what is no longer rendered.
var ownedKinds = map[string]schema.GroupVersionResource{
	"ConfigMap":           {Version: "v1", Resource: "configmaps"},
	"ServiceAccount":      {Version: "v1", Resource: "serviceaccounts"},
	"Service":             {Version: "v1", Resource: "services"},
	"Deployment":          {Group: "apps", Version: "v1", Resource: "deployments"},
	"PodDisruptionBudget": {Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	"ServiceEntry":        {Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"},
	"Gateway":             {Group: "networking.istio.io", Version: "v1", Resource: "gateways"},
	"VirtualService":      {Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
	"DestinationRule":     {Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
	"WorkloadEntry":       {Group: "networking.istio.io", Version: "v1", Resource: "workloadentries"},
	"AuthorizationPolicy": {Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"},
	"NetworkPolicy":       {Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
}

var namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// cluster is one workload cluster the controller writes to.
type cluster struct {
	name string
	// key identifies the credentials the client was built from (a changed Secret makes a new client).
	key     string
	dyn     dynamic.Interface
	meta    metadata.Interface
	onWrite func(cluster, verb, object string)
}

// desired is one rendered object ready to apply.
type desired struct {
	gvr  schema.GroupVersionResource
	id   string // Kind namespace/name
	obj  *unstructured.Unstructured
	hash string
}

// sync makes the cluster hold exactly the rendered objects among those the controller owns: it creates
// missing namespaces, applies what changed and deletes what carries ManagedByLabel but is rendered no
// more. It goes on past a failing object and returns every failure.
func (c *cluster) sync(ctx context.Context, out *istio.Output) error {
	want, err := desiredObjects(out)
	if err != nil {
		return err
	}
	live, errs := c.listOwned(ctx)
	if err := c.ensureNamespaces(ctx, want); err != nil {
		errs = append(errs, err)
	}
	rendered := map[string]bool{}
	var changed []desired
	for _, d := range want {
		rendered[d.id] = true
		if cur, ok := live[d.id]; ok && cur.hash == d.hash {
			continue
		}
		changed = append(changed, d)
	}
	errs = append(errs, c.applyAll(ctx, changed)...)
	if len(errs) > 0 {
		// Deleting while the cluster is only partly reachable could remove what a failed list hid from
		// the rendered set's view; try again on the next pass.
		return errors.Join(errs...)
	}
	var gone []liveObject
	for id, l := range live {
		if !rendered[id] {
			gone = append(gone, l)
		}
	}
	return errors.Join(c.deleteAll(ctx, gone)...)
}

// listOwned reads what the controller owns, by metadata only (labels, annotations, uid): the rendered
// hash is all a pass compares, and a full list of thousands of objects would cost the API server and
// this process far more.
func (c *cluster) listOwned(ctx context.Context) (map[string]liveObject, []error) {
	live := map[string]liveObject{}
	var errs []error
	var mu sync.Mutex
	kinds := make([]string, 0, len(ownedKinds))
	for kind := range ownedKinds {
		kinds = append(kinds, kind)
	}
	forEach(len(kinds), writeWorkers, func(i int) {
		kind := kinds[i]
		gvr := ownedKinds[kind]
		l, err := c.meta.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + managedByValue})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s: %w", gvr.Resource, err))
			return
		}
		for j := range l.Items {
			m := &l.Items[j]
			live[kind+" "+m.Namespace+"/"+m.Name] = liveObject{kind: kind, namespace: m.Namespace, name: m.Name, uid: m.UID, hash: m.Annotations[HashAnnotation]}
		}
	})
	return live, errs
}

// applyAll server-side-applies each object, as the field manager, taking fields over from others.
func (c *cluster) applyAll(ctx context.Context, changed []desired) []error {
	var errs []error
	var mu sync.Mutex
	forEach(len(changed), writeWorkers, func(i int) {
		d := changed[i]
		body, err := json.Marshal(d.obj.Object)
		if err == nil {
			_, err = c.dyn.Resource(d.gvr).Namespace(d.obj.GetNamespace()).Patch(ctx, d.obj.GetName(), types.ApplyPatchType, body,
				metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)})
		}
		if err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("applying %s: %w", d.id, err))
			mu.Unlock()
			return
		}
		c.wrote("apply", d.id)
	})
	return errs
}

// deleteAll deletes each object, only if it is still the one listed (its uid).
func (c *cluster) deleteAll(ctx context.Context, gone []liveObject) []error {
	var errs []error
	var mu sync.Mutex
	forEach(len(gone), writeWorkers, func(i int) {
		l := gone[i]
		id := l.kind + " " + l.namespace + "/" + l.name
		err := c.dyn.Resource(ownedKinds[l.kind]).Namespace(l.namespace).Delete(ctx, l.name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr(l.uid)}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			mu.Lock()
			errs = append(errs, fmt.Errorf("deleting %s: %w", id, err))
			mu.Unlock()
			return
		}
		c.wrote("delete", id)
	})
	return errs
}

// liveObject is what a pass reads of an owned object in a workload cluster.
type liveObject struct {
	kind, namespace, name string
	uid                   types.UID
	hash                  string
}

// ensureNamespaces creates the namespaces the rendered objects live in when they are missing,
// labelled as the controller's. Existing namespaces are never changed, and none is ever deleted.
func (c *cluster) ensureNamespaces(ctx context.Context, want []desired) error {
	seen := map[string]bool{}
	var errs []error
	for _, d := range want {
		ns := d.obj.GetNamespace()
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		_, err := c.dyn.Resource(namespacesGVR).Get(ctx, ns, metav1.GetOptions{})
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns, err))
			continue
		}
		n := &unstructured.Unstructured{}
		n.SetAPIVersion("v1")
		n.SetKind("Namespace")
		n.SetName(ns)
		n.SetLabels(map[string]string{ManagedByLabel: managedByValue})
		_, err = c.dyn.Resource(namespacesGVR).Create(ctx, n, metav1.CreateOptions{FieldManager: FieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("creating namespace %s: %w", ns, err))
			continue
		}
		c.wrote("create", "Namespace "+ns)
	}
	return errors.Join(errs...)
}

func (c *cluster) wrote(verb, id string) {
	if c.onWrite != nil {
		c.onWrite(c.name, verb, id)
	}
}

// desiredObjects turns the rendered objects into apply bodies: the label and the content hash added.
func desiredObjects(out *istio.Output) ([]desired, error) {
	var want []desired
	for _, o := range out.Objects() {
		m, err := istio.Manifest(o)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{Object: m}
		gvr, ok := ownedKinds[u.GetKind()]
		if !ok {
			return nil, fmt.Errorf("rendered kind %s is not one the controller owns", u.GetKind())
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[ManagedByLabel] = managedByValue
		u.SetLabels(labels)
		// The plan version is a hash of the whole plan: kept, it would change every object on any
		// change and make a one-object edit rewrite thousands. Each object's own content hash
		// (HashAnnotation) says what it was rendered from instead.
		ann := u.GetAnnotations()
		delete(ann, istio.AnnotationPlan)
		if ann == nil {
			ann = map[string]string{}
		}
		u.SetAnnotations(ann)
		b, err := json.Marshal(u.Object)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		hash := hex.EncodeToString(sum[:16])
		ann[HashAnnotation] = hash
		u.SetAnnotations(ann)
		want = append(want, desired{gvr: gvr, id: u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName(), obj: u, hash: hash})
	}
	return want, nil
}

func ptr[T any](v T) *T { return &v }
