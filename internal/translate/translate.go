// Package translate turns a validated snapshot of egret's resources into an ir.Plan and a status per resource.
package translate

import (
	"cmp"
	"fmt"
	"slices"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// State is the outcome for one resource.
type State string

const (
	Accepted State = "Accepted"
	Warning  State = "Warning"
	Invalid  State = "Invalid"
)

// Status is what translation says about one resource.
type Status struct {
	Object   string        `json:"object" yaml:"object"`
	Source   api.Source    `json:"-" yaml:"-"`
	State    State         `json:"state" yaml:"state"`
	Problems []api.Problem `json:"-" yaml:"-"`
}

// Result is the plan and the status of every input resource, in input order.
type Result struct {
	Plan     *ir.Plan
	Statuses []Status
}

// Invalid reports whether any resource was invalid (and so left out of the plan).
func (r *Result) Invalid() bool {
	return slices.ContainsFunc(r.Statuses, func(s Status) bool { return s.State == Invalid })
}

// Problems lists every problem of every resource, in status order.
func (r *Result) Problems() []api.Problem {
	var out []api.Problem
	for _, s := range r.Statuses {
		out = append(out, s.Problems...)
	}
	return out
}

// translator carries one translation's inputs and the problems it finds.
type translator struct {
	snap     *api.Snapshot
	invalid  map[api.Object]bool
	problems map[api.Object][]api.Problem
	plan     *ir.Plan
	// tdByCluster is each known cluster's trust domain.
	tdByCluster map[string]string
	// apiListeners parallels each gateway's Listeners (by gateway ID) with the listener they came from.
	apiListeners map[string][]apiListener
	// esByName and esIndex index the ExternalServices by name and input position, built on first use.
	esByName map[string][]*api.ExternalService
	esIndex  map[*api.ExternalService]int
	// tenancy is nil when there is no Workspace (one tenant).
	tenancy *tenancy
	// memo, when set, reuses the previous translation's per-object results (memo.go).
	memo *memoRun
}

// Translate validates the snapshot and translates its valid objects into a compiled plan. It does no I/O
// and never fails as a whole: an invalid resource is left out and reported in its status, and the rest is
// translated without it.
func Translate(s *api.Snapshot) *Result { return translate(s, nil) }

func translate(s *api.Snapshot, m *Memo) *Result {
	if s == nil {
		s = &api.Snapshot{}
	}
	t := &translator{
		snap:         s,
		invalid:      map[api.Object]bool{},
		problems:     map[api.Object][]api.Problem{},
		plan:         &ir.Plan{},
		tdByCluster:  map[string]string{},
		apiListeners: map[string][]apiListener{},
	}
	if m != nil {
		t.memo = &memoRun{m: m}
	}
	objects := s.Objects()
	byRef := make(map[string][]api.Object, len(objects))
	if n := len(s.ExternalServices); n > 0 {
		t.plan.Services = make([]ir.ExternalService, 0, n)
	}
	if n := len(s.AccessPolicies); n > 0 {
		t.plan.Policies = make([]ir.Policy, 0, n)
	}
	for _, o := range objects {
		ref := api.Ref(o)
		byRef[ref] = append(byRef[ref], o)
	}
	validate := api.Validate
	if m != nil {
		validate = m.validate.Validate
	}
	for _, p := range validate(s) {
		for _, o := range owners(byRef[p.Object], p) {
			t.problems[o] = append(t.problems[o], p)
			if p.Severity == api.SeverityError {
				t.invalid[o] = true
			}
		}
	}

	t.meshSettings()
	t.clusters()
	t.gateways()
	t.workloads()
	t.workspaces()
	t.listeners()
	t.memoBegin()
	t.services()
	t.overlaps()
	t.policies()
	t.routeTables()
	t.orderKeys()
	t.memoEnd()
	t.plan.Compile()

	res := &Result{Plan: t.plan, Statuses: make([]Status, 0, len(objects))}
	for _, o := range objects {
		st := Status{Object: api.Ref(o), Source: o.GetSource(), State: Accepted, Problems: t.problems[o]}
		for _, p := range st.Problems {
			if p.Severity == api.SeverityError {
				st.State = Invalid
				break
			}
			st.State = Warning
		}
		res.Statuses = append(res.Statuses, st)
	}
	// Input order: by file and line when the objects were read from files (Objects lists kind by kind).
	slices.SortStableFunc(res.Statuses, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Source.File, b.Source.File), cmp.Compare(a.Source.Line, b.Source.Line))
	})
	return res
}

// warn records a warning on an object.
func (t *translator) warn(o api.Object, path, format string, args ...any) {
	t.problems[o] = append(t.problems[o], api.Problem{
		Severity: api.SeverityWarning,
		Source:   o.GetSource().At(path),
		Object:   api.Ref(o),
		Path:     path,
		Message:  fmt.Sprintf(format, args...),
	})
}

// valid reports whether an object may be translated.
func (t *translator) valid(o api.Object) bool { return !t.invalid[o] }

// inCluster reports whether an object placed by metadata.clusterName exists in cluster ("" = every cluster).
func inCluster(o api.Object, cluster string) bool {
	c := o.GetMeta().ClusterName
	return c == "" || cluster == "" || c == cluster
}

// labelsMatch reports whether have carries every label of want.
func labelsMatch(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// owners are the objects a problem is about: the one at the problem's position when several objects
// share its name (duplicates), else all of them.
func owners(objs []api.Object, p api.Problem) []api.Object {
	if len(objs) > 1 {
		for _, o := range objs {
			if src := o.GetSource(); src.File == p.Source.File && src.At(p.Path).Line == p.Source.Line {
				return []api.Object{o}
			}
		}
	}
	return objs
}
