package translate

import (
	"fmt"
	"slices"
	"strings"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// routeTables compiles each valid RouteTable: where its routes apply (sidecars of the selected workloads,
// listeners of its virtualGateways) and, per route, the matchers and weighted ExternalService destinations.
func (t *translator) routeTables() {
	services := map[string]*api.ExternalService{}
	for _, es := range t.snap.ExternalServices {
		if t.valid(es) && es.Metadata.ClusterName == "" {
			services[es.Metadata.Namespace+"/"+es.Metadata.Name] = es
		}
	}
	for _, rt := range t.snap.RouteTables {
		if !t.valid(rt) {
			continue
		}
		m := rt.Metadata
		out := ir.RouteTable{ID: m.Namespace + "/" + m.Name}
		for i, h := range rt.Spec.Hosts {
			hp, err := ir.ParseHostPattern(h)
			if err != nil {
				t.warn(rt, fmt.Sprintf("spec.hosts[%d]", i), "%v; host skipped", err)
				continue
			}
			out.Hosts = append(out.Hosts, hp)
		}
		t.routeTableCallers(rt, &out)
		out.Gateways = t.routeTableGateways(rt)
		ok := true
		for i, r := range rt.Spec.HTTP {
			name := fmt.Sprintf("route[%d]", i)
			if r.Name != "" {
				name += " " + r.Name
			}
			hr := ir.HTTPRoute{Name: name}
			for _, mt := range r.Matchers {
				hr.Matchers = append(hr.Matchers, routeMatcher(mt))
			}
			weights, _ := api.RouteWeights(r.ForwardTo.Destinations) // validated
			for j, d := range r.ForwardTo.Destinations {
				id := cmpOr(d.Ref.Namespace, m.Namespace) + "/" + d.Ref.Name
				es := services[id]
				if es == nil {
					// Valid references point at an existing service, so this one was itself invalid.
					t.invalidate(rt, fmt.Sprintf("spec.http[%d].forwardTo.destinations[%d].ref", i, j), "ExternalService %s is invalid or placed in one cluster; the route table is left out", id)
					ok = false
					continue
				}
				sp, _ := api.DestinationPort(es, d.Port)
				hr.Destinations = append(hr.Destinations, ir.RouteDestination{ServiceID: serviceID(es), Port: sp.Number, Weight: weights[j]})
			}
			out.Routes = append(out.Routes, hr)
		}
		if ok {
			t.plan.RouteTables = append(t.plan.RouteTables, out)
		}
	}
}

// routeTableCallers applies Gloo's table: no virtualGateways and no selectors = every sidecar; selectors
// with labels = the workloads carrying them; an empty selector = every sidecar; virtualGateways and no
// selectors = no sidecar.
func (t *translator) routeTableCallers(rt *api.RouteTable, out *ir.RouteTable) {
	sels := rt.Spec.WorkloadSelectors
	if len(sels) == 0 {
		out.Mesh, out.AllCallers = len(rt.Spec.VirtualGateways) == 0, len(rt.Spec.VirtualGateways) == 0
		return
	}
	out.Mesh = true
	for _, s := range sels {
		if s.Selector == nil || len(s.Selector.Labels) == 0 {
			out.AllCallers, out.Callers = true, nil
			return
		}
		for _, w := range t.plan.Workloads {
			if labelsMatch(s.Selector.Labels, w.Labels) && !slices.Contains(out.Callers, w.Identity) {
				out.Callers = append(out.Callers, w.Identity)
			}
		}
	}
	if len(out.Callers) == 0 {
		t.warn(rt, "spec.workloadSelectors", "selects no Workload: no sidecar applies these routes")
	}
}

// routeTableGateways lists every listener of the table's VirtualGateways, on every gateway they select.
func (t *translator) routeTableGateways(rt *api.RouteTable) []ir.GatewayTarget {
	var out []ir.GatewayTarget
	for i, ref := range rt.Spec.VirtualGateways {
		vgID := cmpOr(ref.Namespace, rt.Metadata.Namespace) + "/" + ref.Name
		found := false
		for gi := range t.plan.Gateways {
			gw := &t.plan.Gateways[gi]
			if ref.Cluster != "" && gw.Cluster != ref.Cluster {
				continue
			}
			for _, l := range gw.Listeners {
				if l.VirtualGateway != vgID {
					continue
				}
				found = true
				out = append(out, ir.GatewayTarget{GatewayID: gw.ID, Cluster: gw.Cluster, ListenerPort: l.Port, TargetPort: l.TargetPort, Identity: gw.Identity})
			}
		}
		if !found {
			t.warn(rt, fmt.Sprintf("spec.virtualGateways[%d]", i), "VirtualGateway %s opens no listener on any gateway: its routes apply nowhere", vgID)
		}
	}
	return out
}

func routeMatcher(m api.HTTPRequestMatcher) ir.RouteMatcher {
	out := ir.RouteMatcher{Method: strings.ToUpper(m.Method), Port: m.Port}
	if u := m.URI; u != nil {
		out.Exact, out.Prefix, out.Regex, out.IgnoreCase = u.Exact, u.Prefix, u.Regex, u.IgnoreCase
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, ir.RouteHeader{Name: h.Name, Value: h.Value, Regex: h.Regex, Invert: h.InvertMatch})
	}
	return out
}

// invalidate records an error found only in translation and marks the object invalid.
func (t *translator) invalidate(o api.Object, path, format string, args ...any) {
	t.invalid[o] = true
	t.problems[o] = append(t.problems[o], api.Problem{
		Severity: api.SeverityError,
		Source:   o.GetSource().At(path),
		Object:   api.Ref(o),
		Path:     path,
		Message:  fmt.Sprintf(format, args...),
	})
}
