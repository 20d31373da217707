package istio

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	netapi "istio.io/api/networking/v1alpha3"

	"egret.dev/egret/internal/ir"
)

// gatewayTable renders a table bound to VirtualGateways: sidecars send its hosts to the egress gateway
// (as for an ExternalService routed through it), and a VirtualService bound to the gateway's Istio
// Gateway applies the table's matchers and weighted destinations there, the gateway dialling each
// destination service itself. The gateway's AuthorizationPolicies see the Host the caller sent (the
// table's host), not the service a route picks, so the table is rendered only when every destination has
// the same AccessPolicies: those policies then restrict the table's host as well, which decides as egret
// does whichever route and weight a request takes.
func (r *renderer) gatewayTable(t *ir.RouteTable) {
	skip := func(why string) {
		r.warnf("RouteTable %s (hosts %v) applies at gateways and %s; not rendered for Istio, so its hosts get 502 there", t.ID, t.Hosts, why)
	}
	grp, target := r.localTarget(t.Gateways)
	switch {
	case grp == nil:
		skip("none of its gateways is in " + r.cluster + " (cross-cluster egress is not rendered)")
		return
	case r.plan.Outbound != ir.RegistryOnly:
		skip("the mesh is ALLOW_ANY (the table's host on other ports would pass through where egret's table answers 404)")
		return
	case len(r.plan.Workspaces) > 0:
		skip("the mesh has Workspaces (the table's scope and its destinations' visibility per caller)")
		return
	}
	if why := r.claimedElsewhere(t); why != "" {
		skip(why)
		return
	}
	gw := grp.active
	l := listenerOf(gw, target.ListenerPort)
	if l == nil {
		return
	}
	policies, why := r.gatewayTablePolicies(t, gw)
	if why != "" {
		skip(why)
		return
	}
	routes, _ := r.tableRoutes(t, func(d ir.RouteDestination) (string, uint32) { return r.gatewayDestination(gw, d) })
	for _, h := range t.Hosts {
		r.gatewayTableHost(t, gw, l, string(h), routes)
		r.restrictTableHost(gw, policies, h)
	}
}

// gatewayTablePolicies is the AccessPolicies (joined by commas) every destination of t has in common,
// or why t cannot be rendered at gw.
func (r *renderer) gatewayTablePolicies(t *ir.RouteTable, gw *ir.Gateway) (policies, why string) {
	first := true
	for _, route := range t.Routes {
		for _, m := range route.Matchers {
			if m.Port != 0 {
				return "", "a matcher names a port (the gateway sees its own listener's port, not the one the caller called)"
			}
		}
		for _, d := range route.Destinations {
			s := r.services[d.ServiceID]
			if host, _ := r.gatewayDestination(gw, d); host == "" {
				return "", "its destination " + d.ServiceID + " is not served by gateway " + gw.Namespace + "/" + gw.Name
			}
			ps := strings.Join(r.policiesOf(s.ID, d.Port), ",")
			if !first && ps != policies {
				return "", "its destinations have different AccessPolicies (the gateway authorizes by the Host the caller sent)"
			}
			policies, first = ps, false
		}
	}
	return policies, ""
}

// gatewayTableHost renders t for one of its hosts: the mesh sends the host to gw's listener l, where
// the table's routes apply.
func (r *renderer) gatewayTableHost(t *ir.RouteTable, gw *ir.Gateway, l *ir.Listener, host string, routes []*netapi.HTTPRoute) {
	gwRef := r.exposeAt(gw, l, nsOf(t.ID), host)
	subset := r.gatewaySubset(gw, l, host)
	r.tableServiceEntry(t, host, []string{"*"})
	vs := r.tableVirtualService(t, host, []string{"mesh", gwRef}, []string{"*"})
	ports, _ := tablePorts(t)
	for _, p := range ports {
		vs.Spec.Http = append(vs.Spec.Http, &netapi.HTTPRoute{
			Name:  objectName("mesh", strconv.Itoa(int(p))),
			Match: []*netapi.HTTPMatchRequest{{Gateways: []string{"mesh"}, Port: p}},
			Route: []*netapi.HTTPRouteDestination{{Destination: &netapi.Destination{
				Host: serviceHost(gw), Subset: subset, Port: &netapi.PortSelector{Number: l.Port},
			}}},
		})
	}
	for _, hr := range routes {
		hr := proto.Clone(hr).(*netapi.HTTPRoute)
		if len(hr.Match) == 0 {
			hr.Match = []*netapi.HTTPMatchRequest{{}}
		}
		for _, m := range hr.Match {
			m.Gateways = []string{gwRef}
		}
		vs.Spec.Http = append(vs.Spec.Http, hr)
	}
	r.out.VirtualServices = append(r.out.VirtualServices, vs)
}

// restrictTableHost adds the table's host h to what each of policies (joined by commas) restricts at gw.
func (r *renderer) restrictTableHost(gw *ir.Gateway, policies string, h ir.HostPattern) {
	key := gw.Namespace + "/" + gw.Name
	for _, p := range strings.Split(policies, ",") {
		if p == "" {
			continue
		}
		if r.tableHosts == nil {
			r.tableHosts = map[string]map[string][]string{}
		}
		if r.tableHosts[key] == nil {
			r.tableHosts[key] = map[string][]string{}
		}
		r.tableHosts[key][p] = append(r.tableHosts[key][p], authzHosts(h)...)
	}
}

// gatewayDestination is the host and port the gateway dials for a destination: the service must be one
// the gateway serves (its ServiceEntry and origination DestinationRule have a copy in the gateway's
// namespace). "" otherwise.
func (r *renderer) gatewayDestination(gw *ir.Gateway, d ir.RouteDestination) (string, uint32) {
	s := r.services[d.ServiceID]
	if s == nil || !slices.Contains(r.gatewayNamespaces(s), gw.Namespace) {
		return "", 0
	}
	if !slices.ContainsFunc(s.Ports, func(p ir.ServicePort) bool { return p.Number == d.Port }) {
		return "", 0
	}
	for _, h := range s.Hosts {
		if !h.IsWildcard() {
			return string(h), d.Port
		}
	}
	return "", 0
}

// policiesOf lists the AccessPolicies (IDs, in plan order) that apply to a service port.
func (r *renderer) policiesOf(serviceID string, port uint32) []string {
	var out []string
	for _, p := range r.plan.Policies {
		if slices.ContainsFunc(p.Targets, func(t ir.PolicyTarget) bool {
			return t.ServiceID == serviceID && (t.Port == 0 || t.Port == port)
		}) {
			out = append(out, p.ID)
		}
	}
	return out
}
