package translate

import (
	"reflect"
	"sync"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// Memo carries per-object work from one translation to the next, so that translating a snapshot in
// which one object changed does not redo the work of the others. It relies on what source/file.Dir
// guarantees: an object that did not change is the same api.Object (pointer) as last time, and nothing
// mutates it. Its results are reused only when everything they were computed from is the same:
//
//   - an ExternalService's service, routes and warnings depend on the service and on the rest of the
//     snapshot except ExternalServices, AccessPolicies and RouteTables (gateways, listeners, endpoints,
//     workspaces, clusters, mesh settings): when any object of those kinds is added, removed, replaced or
//     changes validity, or what translate made of them before services differs, nothing is reused;
//   - an AccessPolicy's rules (and their warnings) depend on the policy and the same rest; its targets
//     depend on the services too and are computed every time (a target list equal to the last one is
//     handed out again, so consumers comparing plans find it unchanged at once).
//
// Validation reuses each unchanged object's own checks (api.ValidateMemo). The result is always what
// Translate returns for the same snapshot (internal/xds's TestIncrementalMatchesFromScratch checks it
// over random edit sequences). A Memo serves one translation at a time; concurrent calls wait.
type Memo struct {
	mu       sync.Mutex
	validate api.ValidateMemo
	env      []envEntry
	stage    stage
	services map[*api.ExternalService]serviceMemo
	rules    map[*api.AccessPolicy]rulesMemo
	targets  map[*api.AccessPolicy][]ir.PolicyTarget
}

// Translate is Translate(s), reusing the work of the previous call where its inputs are unchanged.
func (m *Memo) Translate(s *api.Snapshot) *Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	return translate(s, m)
}

type envEntry struct {
	obj   api.Object
	valid bool
}

// stage is what translate made of the environment before the services.
type stage struct {
	outbound  ir.OutboundMode
	encoding  string
	clusters  []ir.Cluster
	gateways  []ir.Gateway
	workloads []ir.Workload
	spaces    []ir.Workspace
}

type serviceMemo struct {
	svc      ir.ExternalService
	routes   []ir.Route
	problems []api.Problem
}

type rulesMemo struct {
	rules    []ir.Rule
	problems []api.Problem
}

// memoRun is one translation's view of the memo: the previous results and the ones it records.
type memoRun struct {
	m        *Memo
	reuse    bool // the environment is unchanged: per-object results may be reused
	env      []envEntry
	stage    stage
	services map[*api.ExternalService]serviceMemo
	rules    map[*api.AccessPolicy]rulesMemo
	targets  map[*api.AccessPolicy][]ir.PolicyTarget
}

// memoBegin runs after the environment is translated (just before the services): it decides whether
// per-object results may be reused.
func (t *translator) memoBegin() {
	if t.memo == nil {
		return
	}
	r := t.memo
	for _, o := range t.snap.Objects() {
		switch o.(type) {
		case *api.ExternalService, *api.AccessPolicy, *api.RouteTable:
			continue
		}
		r.env = append(r.env, envEntry{o, t.valid(o)})
	}
	p := t.plan
	r.stage = stage{p.Outbound, p.AccessLogEncoding, p.Clusters, p.Gateways, p.Workloads, p.Workspaces}
	r.reuse = r.m.services != nil && envEqual(r.env, r.m.env) && reflect.DeepEqual(r.stage, r.m.stage)
	r.services = map[*api.ExternalService]serviceMemo{}
	r.rules = map[*api.AccessPolicy]rulesMemo{}
	r.targets = map[*api.AccessPolicy][]ir.PolicyTarget{}
}

func envEqual(a, b []envEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// memoEnd keeps this translation's results for the next one.
func (t *translator) memoEnd() {
	if t.memo == nil {
		return
	}
	r := t.memo
	r.m.env, r.m.stage, r.m.services, r.m.rules, r.m.targets = r.env, r.stage, r.services, r.rules, r.targets
}

// memoService translates es with compute, or appends what it gave last time.
func (t *translator) memoService(es *api.ExternalService, compute func(*api.ExternalService)) {
	r := t.memo
	if r == nil {
		compute(es)
		return
	}
	if old, ok := r.m.services[es]; ok && r.reuse {
		t.plan.Services = append(t.plan.Services, old.svc)
		t.plan.Routes = append(t.plan.Routes, old.routes...)
		t.problems[es] = append(t.problems[es], old.problems...)
		r.services[es] = old
		return
	}
	nRoutes, nProblems := len(t.plan.Routes), len(t.problems[es])
	compute(es)
	r.services[es] = serviceMemo{
		svc:      t.plan.Services[len(t.plan.Services)-1],
		routes:   t.plan.Routes[nRoutes:len(t.plan.Routes):len(t.plan.Routes)],
		problems: append([]api.Problem(nil), t.problems[es][nProblems:]...),
	}
}

// memoRules compiles ap's rules with compute, or returns what it gave last time.
func (t *translator) memoRules(ap *api.AccessPolicy, compute func() []ir.Rule) []ir.Rule {
	r := t.memo
	if r == nil {
		return compute()
	}
	if old, ok := r.m.rules[ap]; ok && r.reuse {
		t.problems[ap] = append(t.problems[ap], old.problems...)
		r.rules[ap] = old
		return old.rules
	}
	n := len(t.problems[ap])
	rules := compute()
	r.rules[ap] = rulesMemo{rules: rules, problems: append([]api.Problem(nil), t.problems[ap][n:]...)}
	return rules
}

// memoTargets hands out ap's last target list again when it equals targets.
func (t *translator) memoTargets(ap *api.AccessPolicy, targets []ir.PolicyTarget) []ir.PolicyTarget {
	r := t.memo
	if r == nil {
		return targets
	}
	if old, ok := r.m.targets[ap]; ok && reflect.DeepEqual(old, targets) {
		targets = old
	}
	r.targets[ap] = targets
	return targets
}
