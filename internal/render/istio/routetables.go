package istio

import (
	netapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"egret.dev/egret/internal/ir"
)

// routeTables renders the RouteTables Istio can express: mesh tables for every caller and for some
// callers (callertables.go) as VirtualServices bound to the mesh, and gateway tables (gatewaytables.go)
// as VirtualServices bound to the egress Gateway. Envoy sends a routed request straight to the chosen
// destination's cluster (VirtualServices do not chain), so a mesh destination that goes through egress
// gateways, and a table that applies both at gateways and at sidecars, are not rendered; each says so in
// a warning, and its hosts keep the VirtualService of their own service.
func (r *renderer) routeTables() {
	for i := range r.plan.RouteTables {
		t := &r.plan.RouteTables[i]
		switch {
		case t.Mesh && len(t.Gateways) > 0:
			r.warnf("RouteTable %s applies both at gateways and at sidecars; not rendered for Istio", t.ID)
		case t.Mesh && t.AllCallers:
			r.meshTable(t)
		case t.Mesh:
			r.callerTable(t)
		case len(t.Gateways) > 0:
			r.gatewayTable(t)
		}
	}
}

// meshTable renders a table for every caller: one VirtualService bound to the mesh, for all its hosts.
func (r *renderer) meshTable(t *ir.RouteTable) {
	vs := r.tableVirtualService(t, "", []string{"mesh"}, nil)
	for _, h := range t.Hosts {
		vs.Spec.Hosts = append(vs.Spec.Hosts, string(h))
	}
	routes, ok := r.tableRoutes(t, r.meshDestination)
	if !ok {
		r.warnf("RouteTable %s sends to a service routed through egress gateways or not in %s; not rendered for Istio", t.ID, r.cluster)
		return
	}
	vs.Spec.Http = routes
	r.out.VirtualServices = append(r.out.VirtualServices, vs)
}

func (r *renderer) tableVirtualService(t *ir.RouteTable, host string, gateways, exportTo []string) *networkingv1.VirtualService {
	vs := &networkingv1.VirtualService{
		TypeMeta:   typeMeta(networkingAPI, "VirtualService"),
		ObjectMeta: r.meta(objectName("routetable", nameOf(t.ID), nsOf(t.ID), host), nsOf(t.ID), ownerOf("RouteTable", t.ID)),
	}
	if host != "" {
		vs.Spec.Hosts = []string{host}
	}
	vs.Spec.Gateways = gateways
	vs.Spec.ExportTo = exportTo
	return vs
}

// tableRoutes turns the table's routes into HTTP routes: matchers and weighted destinations, each
// destination the host and port dest says it is dialled at ("" when it cannot be rendered).
func (r *renderer) tableRoutes(t *ir.RouteTable, dest func(ir.RouteDestination) (string, uint32)) ([]*netapi.HTTPRoute, bool) {
	var out []*netapi.HTTPRoute
	for _, route := range t.Routes {
		hr := &netapi.HTTPRoute{Name: objectName(route.Name)}
		for _, m := range route.Matchers {
			hr.Match = append(hr.Match, httpMatch(m))
		}
		for _, d := range route.Destinations {
			host, port := dest(d)
			if host == "" {
				return nil, false
			}
			hr.Route = append(hr.Route, &netapi.HTTPRouteDestination{
				Destination: &netapi.Destination{Host: host, Port: &netapi.PortSelector{Number: port}},
				Weight:      int32(d.Weight),
			})
		}
		if len(hr.Route) == 1 {
			hr.Route[0].Weight = 0
		}
		out = append(out, hr)
	}
	return out, true
}

func (r *renderer) meshDestination(d ir.RouteDestination) (string, uint32) {
	return destinationOf(r.services[d.ServiceID], d.Port)
}

// destinationOf is the host and port a mesh route dials for a service port, or "" when the port goes
// through egress gateways (which a mesh VirtualService cannot chain into).
func destinationOf(s *ir.ExternalService, port uint32) (string, uint32) {
	if s == nil {
		return "", 0
	}
	for _, p := range s.Ports {
		if p.Number != port || p.PortMatch != 0 {
			continue
		}
		for _, h := range s.Hosts {
			if !h.IsWildcard() {
				return string(h), port
			}
		}
	}
	return "", 0
}

func httpMatch(m ir.RouteMatcher) *netapi.HTTPMatchRequest {
	hm := &netapi.HTTPMatchRequest{Port: m.Port, IgnoreUriCase: m.IgnoreCase}
	switch {
	case m.Exact != "":
		hm.Uri = &netapi.StringMatch{MatchType: &netapi.StringMatch_Exact{Exact: m.Exact}}
	case m.Prefix != "":
		hm.Uri = &netapi.StringMatch{MatchType: &netapi.StringMatch_Prefix{Prefix: m.Prefix}}
	case m.Regex != "":
		hm.Uri = &netapi.StringMatch{MatchType: &netapi.StringMatch_Regex{Regex: m.Regex}}
	}
	if m.Method != "" {
		hm.Method = &netapi.StringMatch{MatchType: &netapi.StringMatch_Exact{Exact: m.Method}}
	}
	for _, h := range m.Headers {
		var sm *netapi.StringMatch
		switch {
		case h.Regex:
			sm = &netapi.StringMatch{MatchType: &netapi.StringMatch_Regex{Regex: h.Value}}
		case h.Value == "":
			sm = &netapi.StringMatch{MatchType: &netapi.StringMatch_Regex{Regex: ".*"}}
		default:
			sm = &netapi.StringMatch{MatchType: &netapi.StringMatch_Exact{Exact: h.Value}}
		}
		if h.Invert {
			if hm.WithoutHeaders == nil {
				hm.WithoutHeaders = map[string]*netapi.StringMatch{}
			}
			hm.WithoutHeaders[h.Name] = sm
		} else {
			if hm.Headers == nil {
				hm.Headers = map[string]*netapi.StringMatch{}
			}
			hm.Headers[h.Name] = sm
		}
	}
	return hm
}

func nsOf(id string) string   { ns, _, _ := cutID(id); return ns }
func nameOf(id string) string { _, n, _ := cutID(id); return n }
