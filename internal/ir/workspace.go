package ir

import (
	"fmt"
	"strings"
)

// Workspace is a tenant, as Gloo's: the (cluster, namespace) pairs whose workloads share what they see.
// A plan without workspaces is one tenant: every workload sees every service.
type Workspace struct {
	Name    string            `json:"name" yaml:"name"`
	Members []WorkspaceMember `json:"members,omitempty" yaml:"members,omitempty"`
}

// WorkspaceMember is a cluster pattern and a namespace pattern, in which "*" matches any run of characters.
type WorkspaceMember struct {
	Cluster   string `json:"cluster" yaml:"cluster"`
	Namespace string `json:"namespace" yaml:"namespace"`
}

// Visibility says that the workloads of a workspace may see a service, and by which rule.
type Visibility struct {
	Workspace string `json:"workspace" yaml:"workspace"`
	// Via is empty in the service's own workspace; otherwise it names the export and the import that share it.
	Via string `json:"via,omitempty" yaml:"via,omitempty"`
}

// Contains reports whether namespace in cluster belongs to the workspace.
func (w *Workspace) Contains(cluster, namespace string) bool {
	for _, m := range w.Members {
		if GlobMatch(m.Cluster, cluster) && GlobMatch(m.Namespace, namespace) {
			return true
		}
	}
	return false
}

// WorkspaceOf names the workspace that namespace in cluster belongs to: the first in plan order (translation
// sorts them by name and warns about overlaps), or "" when it is in none.
func (p *Plan) WorkspaceOf(cluster, namespace string) string {
	for i := range p.Workspaces {
		if p.Workspaces[i].Contains(cluster, namespace) {
			return p.Workspaces[i].Name
		}
	}
	return ""
}

// GlobMatch matches s against a pattern in which each "*" stands for any run of characters.
func GlobMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// viewer is one caller's view of the registry. The zero viewer (a plan without workspaces) sees everything.
type viewer struct {
	on        bool
	workspace string
	// hidden is the most specific entry the caller may not see that has the called port.
	hidden     *hostEntry
	hiddenPort portEntry
}

// viewerFor is the view of a caller: its workspace is that of its namespace (from its verified SPIFFE ID)
// in its cluster. An unauthenticated caller is in no workspace.
func (p *Plan) viewerFor(src SpiffeID, cluster string) viewer {
	if len(p.Workspaces) == 0 {
		return viewer{}
	}
	v := viewer{on: true}
	if !src.IsZero() {
		v.workspace = p.WorkspaceOf(cluster, src.Namespace)
	}
	return v
}

// skips reports whether the caller may not see entry e, remembering the first hidden entry with the port.
func (v *viewer) skips(e *hostEntry, port uint32) bool {
	if !v.on || v.visibleIn(e.svc) != nil {
		return false
	}
	if pe, ok := e.ports[port]; ok && v.hidden == nil {
		v.hidden, v.hiddenPort = e, pe
	}
	return true
}

func (v *viewer) visibleIn(s *ExternalService) *Visibility {
	if v.workspace == "" {
		return nil
	}
	for i := range s.Visibility {
		if s.Visibility[i].Workspace == v.workspace {
			return &s.Visibility[i]
		}
	}
	return nil
}

// refuses reports whether a call must be refused because of a hidden entry: a hidden host:port is never
// passed through (that would bypass the gateway or the policies it has for those who see it), and a
// visible but less specific entry does not route around a hidden entry that goes through gateways.
func (v *viewer) refuses(found *hostEntry) bool {
	if v.hidden == nil {
		return false
	}
	return found == nil || v.hiddenPort.route != nil || v.hiddenPort.port.PortMatch != 0
}

// refuse fills in a decision refused by visibility: to the caller, the host is not in the registry.
func (v *viewer) refuse(d *Decision, hostPort string) {
	s := v.hidden.svc
	d.Kind, d.Upstream = KindNotInRegistry, hostPort
	d.Visibility = "hidden: " + v.hiddenText(s)
	d.Reason = fmt.Sprintf("%s is not in the registry of workspace %s: ExternalService %s is %s; it is refused, not passed through, so that it cannot bypass the gateways and policies of those who see it",
		hostPort, orNone(v.workspace), s.ID, v.hiddenText(s))
}

func (v *viewer) hiddenText(s *ExternalService) string {
	caller := "the caller's namespace is in no workspace"
	if v.workspace != "" {
		caller = "not shared with workspace " + v.workspace
	}
	var own, shared []string
	for _, vis := range s.Visibility {
		if vis.Via == "" {
			own = append(own, vis.Workspace)
		} else {
			shared = append(shared, vis.Workspace)
		}
	}
	if len(own) == 0 {
		return "in no workspace, so no workload sees it"
	}
	text := fmt.Sprintf("in workspace %s, %s", strings.Join(own, ", "), caller)
	if len(shared) > 0 {
		text += " (shared with " + strings.Join(shared, ", ") + ")"
	}
	return text
}

// explain records why the caller sees service s.
func (v *viewer) explain(d *Decision, e *hostEntry) {
	if !v.on || e == nil {
		return
	}
	vis := v.visibleIn(e.svc)
	if vis == nil {
		return
	}
	if vis.Via == "" {
		d.Visibility = fmt.Sprintf("visible: service in workspace %s, the caller's", vis.Workspace)
		return
	}
	d.Visibility = fmt.Sprintf("visible: %s", vis.Via)
}

func orNone(ws string) string {
	if ws == "" {
		return "(none)"
	}
	return ws
}

// tableInWorkspace reports whether a RouteTable applies to the viewer's calls: without workspaces every
// table does; with them, only the tables whose namespace is in the caller's own workspace (a table another
// tenant wrote never steers this caller's requests; imported route tables are not applied yet).
func (p *Plan) tableInWorkspace(t *RouteTable, cluster string, v *viewer) bool {
	if !v.on {
		return true
	}
	ns, _, _ := strings.Cut(t.ID, "/")
	return v.workspace != "" && p.WorkspaceOf(cluster, ns) == v.workspace
}
