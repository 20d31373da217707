package istio

import (
	"maps"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"
	netapi "istio.io/api/networking/v1alpha3"

	"egret.dev/egret/internal/ir"
)

// callerTable renders a mesh table for some callers (workloadSelectors): each of its routes matches only
// requests whose source carries the labels and namespace of a selected workload (HTTPMatchRequest's
// sourceLabels and sourceNamespace), and the table's host is in the registry of those namespaces only.
// egret selects callers by identity (the workloads carrying the labels); Istio by the pod's labels. The
// rendering uses each selected workload's own labels, and is left out (with a warning) when another
// workload of the plan in that namespace carries them too, so that no caller egret leaves out is routed.
// A caller not selected finds no ServiceEntry (502, as egret's REGISTRY_ONLY) or, in a selected
// caller's namespace, only the VirtualService's final 404: refused either way, as egret does.
func (r *renderer) callerTable(t *ir.RouteTable) {
	if r.plan.Outbound != ir.RegistryOnly {
		r.warnf("RouteTable %s applies to some callers only; under ALLOW_ANY the others pass through to its host, which Istio cannot express beside the table; not rendered for Istio", t.ID)
		return
	}
	callers := r.callerWorkloads(t)
	if len(callers) == 0 {
		return // no sidecar of this cluster applies it
	}
	if why := r.callerConflict(t, callers); why != "" {
		r.warnf("RouteTable %s applies to some callers only and %s; not rendered for Istio", t.ID, why)
		return
	}
	if why := r.claimedElsewhere(t); why != "" {
		r.warnf("RouteTable %s applies to some callers only and %s; not rendered for Istio", t.ID, why)
		return
	}
	routes, ok := r.tableRoutes(t, r.meshDestination)
	if !ok {
		r.warnf("RouteTable %s sends to a service routed through egress gateways or not in %s; not rendered for Istio", t.ID, r.cluster)
		return
	}
	var namespaces []string
	for _, w := range callers {
		if !slices.Contains(namespaces, w.Namespace) {
			namespaces = append(namespaces, w.Namespace)
		}
	}
	sort.Strings(namespaces)
	for _, hr := range routes {
		ms := hr.Match
		if len(ms) == 0 {
			ms = []*netapi.HTTPMatchRequest{{}}
		}
		hr.Match = nil
		for _, m := range ms {
			for _, w := range callers {
				c := proto.Clone(m).(*netapi.HTTPMatchRequest)
				c.SourceLabels, c.SourceNamespace = maps.Clone(w.Labels), w.Namespace
				hr.Match = append(hr.Match, c)
			}
		}
	}
	for _, h := range t.Hosts {
		r.tableServiceEntry(t, string(h), namespaces)
		vs := r.tableVirtualService(t, string(h), []string{"mesh"}, namespaces)
		for _, hr := range routes {
			vs.Spec.Http = append(vs.Spec.Http, proto.Clone(hr).(*netapi.HTTPRoute))
		}
		// istiod drops, per proxy, the routes whose sourceLabels it does not carry; a VirtualService left
		// with none is ignored, and the sidecar would dial the ServiceEntry's host itself. This route has
		// no source match, so it stays for every proxy: what no route of the table matches gets 404.
		vs.Spec.Http = append(vs.Spec.Http, &netapi.HTTPRoute{
			Name:           "no-route",
			DirectResponse: &netapi.HTTPDirectResponse{Status: 404},
		})
		r.out.VirtualServices = append(r.out.VirtualServices, vs)
	}
}

// callerWorkloads are the workloads of this cluster whose sidecars apply the table: their identity is a
// caller of it and, with Workspaces, they are in the table's workspace.
func (r *renderer) callerWorkloads(t *ir.RouteTable) []*ir.Workload {
	var out []*ir.Workload
	for i := range r.plan.Workloads {
		w := &r.plan.Workloads[i]
		if w.Cluster == r.cluster && r.appliesTo(t, w) {
			out = append(out, w)
		}
	}
	return out
}

func (r *renderer) appliesTo(t *ir.RouteTable, w *ir.Workload) bool {
	if !slices.Contains(t.Callers, w.Identity) {
		return false
	}
	return len(r.plan.Workspaces) == 0 || r.plan.WorkspaceOf(r.cluster, w.Namespace) == r.plan.WorkspaceOf(r.cluster, nsOf(t.ID))
}

// callerConflict says why Istio's label match would select more than egret's callers: a selected
// workload without labels (it would select its whole namespace), or a workload egret does not select
// that carries all of a selected one's labels in the same namespace. "" when the match is exact for the
// workloads the plan knows.
func (r *renderer) callerConflict(t *ir.RouteTable, callers []*ir.Workload) string {
	for _, w := range callers {
		if len(w.Labels) == 0 {
			return "its caller " + w.Namespace + "/" + w.Name + " has no labels to match it by"
		}
		for i := range r.plan.Workloads {
			o := &r.plan.Workloads[i]
			if o.Cluster != r.cluster || o.Namespace != w.Namespace || r.appliesTo(t, o) {
				continue
			}
			if hasLabels(o.Labels, w.Labels) {
				return "workload " + o.Namespace + "/" + o.Name + ", which it does not apply to, carries every label of its caller " + w.Name
			}
		}
	}
	return ""
}

func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if x, ok := labels[k]; !ok || x != v {
			return false
		}
	}
	return true
}
