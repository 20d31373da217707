package istio

import (
	netapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"egret.dev/egret/internal/ir"
)

// routeTables renders the mesh RouteTables that apply to every caller as VirtualServices bound to the
// mesh: their matchers and weighted destinations. Envoy sends a routed request straight to the chosen
// destination's cluster (VirtualServices do not chain), so a destination that goes through egress
// gateways, a table for some callers only, and a gateway table are not rendered; each says so in a
// warning, and its hosts keep the VirtualService of their own service.
func (r *renderer) routeTables() {
	for _, t := range r.plan.RouteTables {
		if !t.Mesh || !t.AllCallers || len(t.Gateways) > 0 {
			r.warnf("RouteTable %s applies at gateways or to some callers only; not rendered for Istio", t.ID)
			continue
		}
		vs := &networkingv1.VirtualService{
			TypeMeta:   typeMeta(networkingAPI, "VirtualService"),
			ObjectMeta: r.meta(objectName("routetable", nameOf(t.ID), nsOf(t.ID)), nsOf(t.ID), ownerOf("RouteTable", t.ID)),
		}
		for _, h := range t.Hosts {
			vs.Spec.Hosts = append(vs.Spec.Hosts, string(h))
		}
		vs.Spec.Gateways = []string{"mesh"}
		ok := true
		for _, route := range t.Routes {
			hr := &netapi.HTTPRoute{Name: objectName(route.Name)}
			for _, m := range route.Matchers {
				hr.Match = append(hr.Match, httpMatch(m))
			}
			for _, d := range route.Destinations {
				s := r.services[d.ServiceID]
				host, port := destinationOf(s, d.Port)
				if host == "" {
					ok = false
					break
				}
				hr.Route = append(hr.Route, &netapi.HTTPRouteDestination{
					Destination: &netapi.Destination{Host: host, Port: &netapi.PortSelector{Number: port}},
					Weight:      int32(d.Weight),
				})
			}
			if len(hr.Route) == 1 {
				hr.Route[0].Weight = 0
			}
			vs.Spec.Http = append(vs.Spec.Http, hr)
		}
		if !ok {
			r.warnf("RouteTable %s sends to a service routed through egress gateways or not in %s; not rendered for Istio", t.ID, r.cluster)
			continue
		}
		r.out.VirtualServices = append(r.out.VirtualServices, vs)
	}
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
