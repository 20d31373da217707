package translate

import (
	"fmt"
	"slices"
	"strings"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// tenancy is the translation's view of the Workspaces and WorkspaceSettings; nil when there is no
// Workspace, which keeps egret single-tenant.
type tenancy struct {
	list     []*workspace // by name, as in the plan
	settings map[*workspace]*api.WorkspaceSettings
	global   *api.WorkspaceSettings
	seen     map[*api.ExternalService][]ir.Visibility
}

type workspace struct {
	obj     *api.Workspace
	members []member
}

// member is one (cluster, namespace) pattern pair; config says resources there count (configEnabled).
type member struct {
	cluster, namespace string
	config             bool
}

func (w *workspace) name() string { return w.obj.Metadata.Name }

// workspaces reads the Workspaces into the plan and ties each WorkspaceSettings to its workspace: the one
// whose namespaces hold it, or every workspace for the one named "global" in Gloo's admin namespace.
// An invalid Workspace stays in the plan with no members: its namespaces then see nothing rather than
// everything, because dropping the last Workspace would make the mesh single-tenant again.
func (t *translator) workspaces() {
	if len(t.snap.Workspaces) == 0 {
		return
	}
	tn := &tenancy{settings: map[*workspace]*api.WorkspaceSettings{}, seen: map[*api.ExternalService][]ir.Visibility{}}
	for _, o := range t.snap.Workspaces {
		w := &workspace{obj: o}
		if t.valid(o) {
			w.members = members(o)
		}
		tn.list = append(tn.list, w)
	}
	slices.SortStableFunc(tn.list, func(a, b *workspace) int { return strings.Compare(a.name(), b.name()) })
	for _, w := range tn.list {
		iw := ir.Workspace{Name: w.name()}
		for _, m := range w.members {
			iw.Members = append(iw.Members, ir.WorkspaceMember{Cluster: m.cluster, Namespace: m.namespace})
		}
		t.plan.Workspaces = append(t.plan.Workspaces, iw)
	}
	t.tenancy = tn

	// A namespace belongs to one workspace: the first by name when patterns overlap.
	for _, wl := range t.plan.Workloads {
		var in []string
		for i := range t.plan.Workspaces {
			if t.plan.Workspaces[i].Contains(wl.Cluster, wl.Namespace) {
				in = append(in, t.plan.Workspaces[i].Name)
			}
		}
		for _, name := range in[min(1, len(in)):] {
			t.warn(tn.byName(name).obj, "spec.workloadClusters", "namespace %s in cluster %s (Workload %s/%s) is also in workspace %s, which comes first by name; it belongs to %s only",
				wl.Namespace, wl.Cluster, wl.Namespace, wl.Name, in[0], in[0])
		}
	}

	for _, ws := range t.snap.WorkspaceSettings {
		if !t.valid(ws) {
			continue
		}
		if ws.Metadata.Name == api.GlobalWorkspaceSettings && ws.Metadata.Namespace == api.AdminNamespace {
			tn.global = ws
			continue
		}
		owners := t.ownersOf(ws)
		switch {
		case len(owners) == 0:
			t.warn(ws, "metadata.namespace", "namespace %s is in no workspace, so these settings apply to none (settings live in one of their workspace's namespaces, or are named %q in %s to apply to all)",
				ws.Metadata.Namespace, api.GlobalWorkspaceSettings, api.AdminNamespace)
		case len(owners) > 1:
			t.warn(ws, "metadata.namespace", "namespace %s is in workspaces %s; set metadata.clusterName to say which workspace these settings are for; ignored until then",
				ws.Metadata.Namespace, names(owners))
		case tn.settings[owners[0]] != nil:
			prev := tn.settings[owners[0]]
			t.warn(ws, "metadata.name", "ignored: workspace %s already has %s (%s:%d); a workspace has one WorkspaceSettings",
				owners[0].name(), api.Ref(prev), prev.Src.File, prev.Src.Line)
		default:
			tn.settings[owners[0]] = ws
		}
	}
}

// members lists a Workspace's (cluster, namespace) patterns. Entries that select clusters or namespaces by
// labels match nothing (validation says so). configEnabled is all or nothing: once any entry sets it, only
// the entries that set it (or whose cluster does) hold configuration.
func members(o *api.Workspace) []member {
	explicit := false
	for _, c := range o.Spec.WorkloadClusters {
		explicit = explicit || isTrue(c.ConfigEnabled)
		for _, n := range c.Namespaces {
			explicit = explicit || isTrue(n.ConfigEnabled)
		}
	}
	var out []member
	for _, c := range o.Spec.WorkloadClusters {
		if len(c.Selector) > 0 || c.Name == "" {
			continue
		}
		for _, n := range c.Namespaces {
			if len(n.Labels) > 0 || n.Name == "" {
				continue
			}
			config := !explicit || isTrue(n.ConfigEnabled) || n.ConfigEnabled == nil && isTrue(c.ConfigEnabled)
			out = append(out, member{cluster: c.Name, namespace: n.Name, config: config})
		}
	}
	return out
}

func isTrue(b *bool) bool { return b != nil && *b }

func (tn *tenancy) byName(name string) *workspace {
	for _, w := range tn.list {
		if w.name() == name {
			return w
		}
	}
	return nil
}

func names(ws []*workspace) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.name()
	}
	return strings.Join(out, ", ")
}

// ownersOf lists the workspaces a resource is in: those with a configuration namespace matching the
// resource's namespace, in its cluster (metadata.clusterName) or, for a resource in every cluster, in a
// cluster of the mesh.
func (t *translator) ownersOf(o api.Object) []*workspace {
	m := o.GetMeta()
	var out []*workspace
	for _, w := range t.tenancy.list {
		for _, mb := range w.members {
			if mb.config && ir.GlobMatch(mb.namespace, m.Namespace) && t.clusterMatches(mb.cluster, m.ClusterName) {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

func (t *translator) clusterMatches(pattern, cluster string) bool {
	if cluster != "" {
		return ir.GlobMatch(pattern, cluster)
	}
	if len(t.plan.Clusters) == 0 {
		return true
	}
	for _, c := range t.plan.Clusters {
		if ir.GlobMatch(pattern, c.Name) {
			return true
		}
	}
	return false
}

// visibility lists the workspaces that see an ExternalService: its own, and each workspace that imports
// it from an owner that exports it to that workspace (both sides must agree, as in Gloo).
func (t *translator) visibility(es *api.ExternalService) []ir.Visibility {
	tn := t.tenancy
	if tn == nil {
		return nil
	}
	if v, ok := tn.seen[es]; ok {
		return v
	}
	owners := t.ownersOf(es)
	if len(owners) == 0 {
		t.warn(es, "metadata.namespace", "namespace %s is in no workspace, so no workload sees this service", es.Metadata.Namespace)
	} else if len(owners) > 1 {
		t.warn(es, "metadata.namespace", "namespace %s is in workspaces %s (in different clusters); the service belongs to each", es.Metadata.Namespace, names(owners))
	}
	var out []ir.Visibility
	for _, w := range tn.list {
		if slices.Contains(owners, w) {
			out = append(out, ir.Visibility{Workspace: w.name()})
			continue
		}
		for _, o := range owners {
			exp := tn.shares(o, w, es, true)
			imp := tn.shares(w, o, es, false)
			if exp != "" && imp != "" {
				out = append(out, ir.Visibility{Workspace: w.name(), Via: fmt.Sprintf(
					"service in workspace %s, imported by workspace %s via %s (exported by %s)", o.name(), w.name(), imp, exp)})
				break
			}
		}
	}
	tn.seen[es] = out
	return out
}

// shares names the WorkspaceSettings of workspace from (its own or the global one) whose exportTo
// (export) or importFrom names workspace other and selects es; "" when none does.
func (tn *tenancy) shares(from, other *workspace, es *api.ExternalService, export bool) string {
	for _, s := range []*api.WorkspaceSettings{tn.settings[from], tn.global} {
		if s == nil {
			continue
		}
		entries := s.Spec.ImportFrom
		if export {
			entries = s.Spec.ExportTo
		}
		for _, e := range entries {
			if workspaceSelected(e.Workspaces, other) && resourceSelected(e.Resources, es) {
				return api.Ref(s)
			}
		}
	}
	return ""
}

func workspaceSelected(sel []api.WorkspaceSelector, w *workspace) bool {
	for _, s := range sel {
		if s.Name != "" && ir.GlobMatch(s.Name, w.name()) {
			return true
		}
		if s.Name == "" && len(s.Selector) > 0 && labelsMatch(s.Selector, w.obj.Metadata.Labels) {
			return true
		}
	}
	return false
}

// resourceSelected applies an entry's resource filters to an ExternalService; no filter shares everything.
func resourceSelected(rs []api.ResourceSelector, es *api.ExternalService) bool {
	if len(rs) == 0 {
		return true
	}
	m := es.Metadata
	for _, r := range rs {
		if r.Kind.SharesExternalServices() &&
			(r.Name == "" || r.Name == m.Name) &&
			(r.Namespace == "" || r.Namespace == m.Namespace) &&
			(r.Cluster == "" || m.ClusterName == "" || r.Cluster == m.ClusterName) &&
			labelsMatch(r.Labels, m.Labels) {
			return true
		}
	}
	return false
}

// sees reports whether the workspace of resource o (a VirtualGateway or an AccessPolicy) sees es. Without
// workspaces everything sees everything; a resource in no workspace sees nothing.
func (t *translator) sees(o api.Object, es *api.ExternalService) bool {
	if t.tenancy == nil {
		return true
	}
	vis := t.visibility(es)
	for _, w := range t.ownersOf(o) {
		if slices.ContainsFunc(vis, func(v ir.Visibility) bool { return v.Workspace == w.name() }) {
			return true
		}
	}
	return false
}

// workspaceText names the workspace(s) of o for messages.
func (t *translator) workspaceText(o api.Object) string {
	if ws := t.ownersOf(o); len(ws) > 0 {
		return "workspace " + names(ws)
	}
	return "no workspace"
}

// selectedByAny reports whether an EXTERNAL_SERVICE destination of a policy selects es.
func selectedByAny(dests []api.DestinationSelector, es *api.ExternalService) bool {
	for _, d := range dests {
		if d.Kind == api.DestinationExternalService && (d.Selector == nil || objectSelected(d.Selector, es)) {
			return true
		}
	}
	return false
}
