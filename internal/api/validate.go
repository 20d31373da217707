package api

import (
	"fmt"
	"sort"
)

// Validate checks every object of the snapshot, alone and against the others, and returns every problem
// found, in input order. Objects with an error-severity problem must not be translated.
func Validate(s *Snapshot) Problems {
	v := &validator{}
	for _, o := range s.Objects() {
		v.object(o)
	}
	return v.across(s)
}

// object checks o alone; its problems depend on o only (ValidateMemo relies on this).
func (v *validator) object(o Object) {
	v.obj = o
	v.common(o)
	switch o := o.(type) {
	case *VirtualGateway:
		v.virtualGateway(o)
	case *ExternalService:
		v.externalService(o)
	case *ExternalEndpoint:
		v.externalEndpoint(o)
	case *AccessPolicy:
		v.accessPolicy(o)
	case *GatewayLifecycleManager:
		v.gatewayLifecycleManager(o)
	case *IstioLifecycleManager:
		v.istioLifecycleManager(o)
	case *Mesh:
		v.mesh(o)
	case *Workload:
		v.workload(o)
	case *Workspace:
		v.workspace(o)
	case *WorkspaceSettings:
		v.workspaceSettings(o)
	case *RouteTable:
		v.routeTable(o)
	case *Unsupported:
		v.unsupported(o)
	}
}

// across checks the objects against each other and sorts every problem into input order.
func (v *validator) across(s *Snapshot) Problems {
	v.duplicates(s)
	v.references(s)
	v.routeTableReferences(s)
	v.meshSettings(s)
	v.workspaceRules(s)
	sort.SliceStable(v.problems, func(i, j int) bool {
		a, b := v.problems[i].Source, v.problems[j].Source
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return v.problems
}

// ObjectProblems groups problems by the object they are about (api.Ref).
func (ps Problems) ByObject() map[string]Problems {
	out := map[string]Problems{}
	for _, p := range ps {
		out[p.Object] = append(out[p.Object], p)
	}
	return out
}

type validator struct {
	obj      Object
	problems Problems
}

func (v *validator) add(sev Severity, path, format string, args ...any) {
	v.problems = append(v.problems, Problem{
		Severity: sev,
		Source:   v.obj.GetSource().At(path),
		Object:   Ref(v.obj),
		Path:     path,
		Message:  fmt.Sprintf(format, args...),
	})
}

func (v *validator) errorf(path, format string, args ...any) {
	v.add(SeverityError, path, format, args...)
}
func (v *validator) warnf(path, format string, args ...any) {
	v.add(SeverityWarning, path, format, args...)
}

// common checks the metadata every kind shares.
func (v *validator) common(o Object) {
	m := o.GetMeta()
	if m.Name == "" {
		v.errorf("metadata.name", "required")
	} else if msg := checkDNSSubdomain(m.Name); msg != "" {
		v.errorf("metadata.name", "%s", msg)
	}
	if _, cluster := o.(*Mesh); !cluster {
		if msg := checkDNSLabel(m.Namespace); msg != "" {
			v.errorf("metadata.namespace", "%s", msg)
		}
	}
	if m.ClusterName != "" {
		v.cluster("metadata.clusterName", m.ClusterName)
	}
	for k := range m.Labels {
		if msg := checkLabelKey(k); msg != "" {
			v.errorf("metadata.labels."+k, "%s", msg)
		}
	}
}

// cluster checks a cluster name: it becomes a certificate SAN and a trust domain.
func (v *validator) cluster(path, name string) {
	if msg := checkClusterName(name); msg != "" {
		v.errorf(path, "%s", msg)
	}
}

func (v *validator) port(path string, n uint32) {
	if n < 1 || n > 65535 {
		v.errorf(path, "must be 1-65535, got %d", n)
	}
}

func (v *validator) selector(path string, s *ObjectSelector) {
	if s == nil {
		return
	}
	if s.Cluster != "" {
		v.cluster(path+".cluster", s.Cluster)
	}
	if s.Namespace != "" {
		if msg := checkDNSLabel(s.Namespace); msg != "" {
			v.errorf(path+".namespace", "%s", msg)
		}
	}
	if s.Workspace != "" {
		v.warnf(path+".workspace", "egret does not read selector.workspace yet: a client selector with it allows no one, other selectors match in every workspace")
	}
}

// duplicates reports two objects of the same kind, namespace, name and cluster.
func (v *validator) duplicates(s *Snapshot) {
	first := map[string]Object{}
	for _, o := range s.Objects() {
		key := Ref(o) + "@" + o.GetMeta().ClusterName
		if prev, ok := first[key]; ok {
			v.obj = o
			ps := prev.GetSource()
			v.errorf("metadata.name", "duplicate: %s is already defined at %s:%d", Ref(o), ps.File, ps.Line)
			continue
		}
		first[key] = o
	}
}
