package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/render/istio"
	"egret.dev/egret/internal/source/kube"
	"egret.dev/egret/internal/translate"
)

// wideningKinds are the kinds whose absence can widen access: without an AccessPolicy its hosts take
// anyone; without a Mesh or IstioLifecycleManager the outbound policy falls back to ALLOW_ANY; without
// a Workspace or WorkspaceSettings tenancy loosens; without an ExternalEndpoint a host is dialled by
// name instead of at its pinned address. An invalid one the controller holds no valid version of
// stops the whole rollout (fail closed) instead of being left out.
var wideningKinds = []string{api.KindAccessPolicy, api.KindMesh, api.KindIstioLifecycleManager,
	api.KindWorkspace, api.KindWorkspaceSettings, api.KindExternalEndpoint}

// reconciler is the one reconcile loop of the mesh: the plan is global, so every event leads to one
// pass over every resource and every workload cluster.
type reconciler struct {
	log          *slog.Logger
	mgmt         client.Client
	src          *kube.Source
	recorder     events.EventRecorder
	namespace    string
	localCluster string
	localConfig  *rest.Config
	resync       time.Duration
	onWrite      func(cluster, verb, object string)

	// lastValid is, by Ref, the last version of each object that translated without errors: what
	// stays applied while the object is invalid. It lives only in memory (see docs/kubernetes.md).
	lastValid map[string]kube.Object
	clientsMu sync.Mutex // clusters are synced concurrently
	clients   map[string]*cluster
}

// entry is what one pass knows of one source object.
type entry struct {
	obj      kube.Object
	problems []api.Problem // of the current version: decode and translation problems
	invalid  bool          // the current version has errors
	fallback *kube.Object  // the last valid version used in its place, if any
	// unheld is set for an invalid object of a widening kind with no valid version in use.
	unheld bool
}

// clusterResult is the outcome of one workload cluster's sync.
type clusterResult struct {
	name string
	err  error
}

func (r *reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	objs, err := r.src.List(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	entries, res := r.translate(objs)

	var blocking []string
	for _, e := range entries {
		if e.unheld {
			blocking = append(blocking, e.obj.Ref)
		}
	}
	sources, cerrs := r.workloadClusters(ctx)
	for _, err := range cerrs {
		r.log.Error("workload clusters", "error", err)
	}
	var results []clusterResult
	if len(blocking) == 0 {
		// Clusters are independent: each is synced on its own, at once.
		results = make([]clusterResult, len(sources))
		forEach(len(sources), len(sources), func(i int) {
			results[i] = clusterResult{name: sources[i].name, err: r.syncCluster(ctx, sources[i], res)}
		})
	} else {
		r.log.Warn("rollout held: invalid objects of kinds whose absence would widen access have no valid version", "objects", blocking)
	}
	var failed []error
	for _, cr := range results {
		if cr.err != nil {
			r.log.Error("workload cluster sync failed", "cluster", cr.name, "error", cr.err)
			failed = append(failed, fmt.Errorf("cluster %s: %w", cr.name, cr.err))
		}
	}
	st := passOutcome{clusters: sourceNames(sources), results: results, blocking: blocking}
	var mu sync.Mutex
	forEach(len(entries), writeWorkers, func(i int) {
		if err := r.writeStatus(ctx, entries[i], st); err != nil {
			mu.Lock()
			failed = append(failed, err)
			mu.Unlock()
		}
	})
	if len(failed) > 0 {
		return reconcile.Result{}, errors.Join(failed...) // retried with the queue's backoff
	}
	return reconcile.Result{RequeueAfter: r.resync}, nil
}

// translate decodes and translates every object, putting the last valid version in place of each
// invalid one, and records what is now valid.
func (r *reconciler) translate(objs []kube.Object) ([]*entry, *translate.Result) {
	entries := make([]*entry, len(objs))
	byRef := map[string]*entry{}
	for i, o := range objs {
		entries[i] = &entry{obj: o}
		byRef[o.Ref] = entries[i]
	}
	first := true
	build := func() *api.Snapshot {
		defer func() { first = false }()
		snap := &api.Snapshot{}
		for _, e := range entries {
			o := e.obj
			if e.invalid {
				if e.fallback == nil {
					continue
				}
				o = *e.fallback
			}
			decoded, ps := kube.Decode(o.File, o.Data)
			if first {
				e.problems = append(e.problems, ps...)
				if len(api.Problems(ps).Errors()) > 0 {
					e.invalid = true
				}
			}
			for _, d := range decoded {
				snap.Add(d)
			}
		}
		return snap
	}
	res := translate.Translate(build())
	states := statesByRef(res)
	again := false
	for _, e := range entries {
		if s, ok := states[e.obj.Ref]; ok {
			e.problems = append(e.problems, s.Problems...)
			e.invalid = e.invalid || s.State == translate.Invalid
		}
		if e.invalid {
			if lv, ok := r.lastValid[e.obj.Ref]; ok {
				e.fallback = &lv
				again = true
			}
		}
	}
	if again {
		res = translate.Translate(build())
		states = statesByRef(res)
		for _, e := range entries {
			if e.fallback != nil && states[e.obj.Ref].State == translate.Invalid {
				e.fallback = nil // its last valid version is not valid among today's objects either
			}
		}
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.obj.Ref] = true
		if !e.invalid {
			r.lastValid[e.obj.Ref] = e.obj
		}
		e.unheld = e.invalid && e.fallback == nil && slices.Contains(wideningKinds, e.obj.Live.GetKind())
	}
	for ref := range r.lastValid {
		if !seen[ref] {
			delete(r.lastValid, ref) // deleted: nothing of it is applied any more
		}
	}
	return entries, res
}

func statesByRef(res *translate.Result) map[string]translate.Status {
	m := map[string]translate.Status{}
	for _, s := range res.Statuses {
		m[s.Object] = s
	}
	return m
}

// syncCluster renders the plan for one workload cluster and makes the cluster hold it.
func (r *reconciler) syncCluster(ctx context.Context, cs clusterSource, res *translate.Result) error {
	if !slices.ContainsFunc(res.Plan.Clusters, func(c ir.Cluster) bool { return c.Name == cs.name }) {
		// No lifecycle manager names it: nothing is rendered for it and nothing is removed from it.
		return fmt.Errorf("not in the plan: no GatewayLifecycleManager or IstioLifecycleManager names cluster %q", cs.name)
	}
	out, err := istio.Render(res.Plan, cs.name)
	if err != nil {
		return err
	}
	for _, w := range out.Warnings {
		r.log.Warn("render", "cluster", cs.name, "warning", w)
	}
	c, err := r.client(cs)
	if err != nil {
		return err
	}
	return c.sync(ctx, out)
}

func sourceNames(cs []clusterSource) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

// problemText is the problems of one object as its status shows them: without the object's own name
// and the synthetic file name, which say nothing on the object itself.
func problemText(e *entry, severity api.Severity) string {
	var lines []string
	for _, p := range e.problems {
		if p.Severity != severity {
			continue
		}
		s := ""
		if p.Object != "" && p.Object != e.obj.Ref {
			s = p.Object + ": "
		}
		if p.Path != "" {
			s += p.Path + ": "
		}
		lines = append(lines, s+p.Message)
	}
	return strings.Join(lines, "; ")
}
