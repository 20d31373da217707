package ir

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// RouteTable is one RouteTable's HTTP routes to ExternalServices. Mesh tables apply at the sidecars of
// their callers, which send a matched request on as if the workload had called the chosen service;
// gateway tables apply at their gateways, which the sidecars send the table's hosts to. A request is
// routed once: the gateway never applies mesh tables, so it never re-picks what a sidecar picked, and
// nothing about the choice travels in a header a caller could forge.
type RouteTable struct {
	// ID is namespace/name.
	ID    string        `json:"id" yaml:"id"`
	Hosts []HostPattern `json:"hosts" yaml:"hosts"`
	// Mesh says the routes apply at sidecars: of every caller (AllCallers) or of Callers.
	Mesh       bool       `json:"mesh,omitempty" yaml:"mesh,omitempty"`
	AllCallers bool       `json:"allCallers,omitempty" yaml:"allCallers,omitempty"`
	Callers    []SpiffeID `json:"callers,omitempty" yaml:"callers,omitempty"`
	// Gateways are the gateway listeners that apply the routes (the table's virtualGateways).
	Gateways []GatewayTarget `json:"gateways,omitempty" yaml:"gateways,omitempty"`
	Routes   []HTTPRoute     `json:"routes" yaml:"routes"`
}

// HTTPRoute sends requests that any of its matchers (or, with none, every request) selects to one of
// its destinations, picked by weight.
type HTTPRoute struct {
	// Name is "route[i]" or "route[i] name", as logs and `egret check` show it.
	Name         string             `json:"name" yaml:"name"`
	Matchers     []RouteMatcher     `json:"matchers,omitempty" yaml:"matchers,omitempty"`
	Destinations []RouteDestination `json:"destinations" yaml:"destinations"`
}

// RouteMatcher holds when every condition it has holds.
type RouteMatcher struct {
	Exact      string        `json:"exact,omitempty" yaml:"exact,omitempty"`
	Prefix     string        `json:"prefix,omitempty" yaml:"prefix,omitempty"`
	Regex      string        `json:"regex,omitempty" yaml:"regex,omitempty"`
	IgnoreCase bool          `json:"ignoreCase,omitempty" yaml:"ignoreCase,omitempty"`
	Method     string        `json:"method,omitempty" yaml:"method,omitempty"`
	Headers    []RouteHeader `json:"headers,omitempty" yaml:"headers,omitempty"`
	Port       uint32        `json:"port,omitempty" yaml:"port,omitempty"`
}

// RouteHeader matches one header: present (no Value), equal to Value, or matching it as a regex; Invert
// turns the condition around.
type RouteHeader struct {
	Name   string `json:"name" yaml:"name"`
	Value  string `json:"value,omitempty" yaml:"value,omitempty"`
	Regex  bool   `json:"regex,omitempty" yaml:"regex,omitempty"`
	Invert bool   `json:"invert,omitempty" yaml:"invert,omitempty"`
}

// RouteDestination is an ExternalService port and its share of the route's traffic (weights total 100).
type RouteDestination struct {
	ServiceID string `json:"service" yaml:"service"`
	Port      uint32 `json:"port" yaml:"port"`
	Weight    uint32 `json:"weight" yaml:"weight"`
}

// RouteSplit is one destination of a weighted route, as `egret check` shows it.
type RouteSplit = RouteDestination

// compiledTable is a RouteTable with its regexes compiled and its destinations resolved.
type compiledTable struct {
	t       *RouteTable
	callers map[SpiffeID]bool
	routes  []compiledRoute
}

type compiledRoute struct {
	r     *HTTPRoute
	paths []*regexp.Regexp // per matcher; nil without a regex
	hdrs  [][]*regexp.Regexp
	dests []routeDest
}

// routeDest is a destination resolved to the service, its port and the host requests are sent to.
type routeDest struct {
	RouteDestination
	svc   *ExternalService
	port  *ServicePort
	host  string
	entry *hostEntry
}

func (ix *index) compileRouteTables(p *Plan) {
	svcs := make(map[string]*ExternalService, len(p.Services))
	for i := range p.Services {
		svcs[p.Services[i].ID] = &p.Services[i]
	}
	for i := range p.RouteTables {
		t := &p.RouteTables[i]
		ct := &compiledTable{t: t, callers: map[SpiffeID]bool{}}
		for _, id := range t.Callers {
			ct.callers[id] = true
		}
		for j := range t.Routes {
			r := &t.Routes[j]
			cr := compiledRoute{r: r, paths: make([]*regexp.Regexp, len(r.Matchers)), hdrs: make([][]*regexp.Regexp, len(r.Matchers))}
			for k, m := range r.Matchers {
				if m.Regex != "" {
					cr.paths[k], _ = regexp.Compile("^(?:" + m.Regex + ")$") // validated; a bad one matches nothing
				}
				cr.hdrs[k] = make([]*regexp.Regexp, len(m.Headers))
				for h, hm := range m.Headers {
					if hm.Regex {
						cr.hdrs[k][h], _ = regexp.Compile("^(?:" + hm.Value + ")$")
					}
				}
			}
			for _, d := range r.Destinations {
				rd := routeDest{RouteDestination: d, svc: svcs[d.ServiceID]}
				if rd.svc != nil {
					for k := range rd.svc.Ports {
						if rd.svc.Ports[k].Number == d.Port {
							rd.port = &rd.svc.Ports[k]
						}
					}
					for _, h := range rd.svc.Hosts {
						if !h.IsWildcard() {
							rd.host = string(h)
							break
						}
					}
					for _, e := range ix.exact[rd.host] {
						if e.svc == rd.svc {
							rd.entry = e
						}
					}
				}
				cr.dests = append(cr.dests, rd)
			}
			ct.routes = append(ct.routes, cr)
		}
		ix.tables = append(ix.tables, ct)
	}
}

// routed is where a route table sent a request.
type routed struct {
	host string
	port uint32
	// gateway is set for a gateway route decided here: the gateway dials the service itself.
	gateway *Route
	dest    *routeDest
}

// routeTables applies the route tables that claim the request's host where the request is decided (a
// sidecar when r.Gateway is empty, else that gateway). It returns done when d is the final answer.
func (ix *index) routeTables(r Request, host string, d *Decision, inScope func(*RouteTable) bool) (via *routed, done bool) {
	for _, ct := range ix.tables {
		t := ct.t
		if !t.claims(host) || !inScope(t) {
			continue
		}
		atGateway := r.Gateway != "" && slices.ContainsFunc(t.Gateways, func(g GatewayTarget) bool { return g.GatewayID == r.Gateway })
		atSidecar := r.Gateway == "" && t.Mesh && (t.AllCallers || ct.callers[r.Source])
		if !atGateway && !atSidecar {
			if r.Gateway == "" && len(t.Gateways) > 0 {
				// A gateway table: the sidecar sends the request to the table's gateways, which route it.
				d.Allow, d.Kind = true, KindRouted
				d.RouteTable = t.ID + " (routes at the gateway)"
				d.Reason = fmt.Sprintf("RouteTable %s routes %s at its gateways; the gateway decides the destination and applies its AccessPolicies", t.ID, host)
				d.Targets = orderTargets(t.Gateways, d.Cluster)
				return nil, true
			}
			continue
		}
		for i := range ct.routes {
			cr := &ct.routes[i]
			if !cr.matches(r) {
				continue
			}
			d.RouteTable = t.ID + " " + cr.r.Name
			dest := cr.pick(r.Pick)
			if len(cr.dests) > 1 {
				d.Split = append([]RouteSplit(nil), cr.r.Destinations...)
			}
			if dest == nil || dest.port == nil || dest.entry == nil {
				d.Kind = KindNoRoute
				d.Reason = fmt.Sprintf("RouteTable %s %s: its destination is not in the registry", t.ID, cr.r.Name)
				return nil, true
			}
			d.RoutedFrom = net.JoinHostPort(host, strconv.FormatUint(uint64(r.Port), 10))
			v := &routed{host: dest.host, port: dest.port.Number, dest: dest}
			if atGateway {
				v.gateway = &Route{Host: dest.entry.pattern, ServiceID: dest.svc.ID, Port: dest.port.Number, Targets: t.Gateways}
			} else if dest.port.PortMatch != 0 {
				v.port = dest.port.PortMatch
			}
			return v, false
		}
		d.Kind = KindRouteNotFound
		d.RouteTable = t.ID
		d.Reason = fmt.Sprintf("RouteTable %s claims %s and none of its routes matches the request (Gloo answers 404)", t.ID, host)
		return nil, true
	}
	return nil, false
}

func (t *RouteTable) claims(host string) bool {
	return slices.ContainsFunc(t.Hosts, func(h HostPattern) bool { return h.Matches(host) })
}

// pick chooses a destination by weight; pick is a random number the proxy draws per request, so the
// decision itself stays a pure function of the request.
func (cr *compiledRoute) pick(pick uint32) *routeDest {
	if len(cr.dests) == 0 {
		return nil
	}
	x := pick % 100
	for i := range cr.dests {
		if x < cr.dests[i].Weight {
			return &cr.dests[i]
		}
		x -= cr.dests[i].Weight
	}
	return &cr.dests[len(cr.dests)-1]
}

func (cr *compiledRoute) matches(r Request) bool {
	if len(cr.r.Matchers) == 0 {
		return true
	}
	for i := range cr.r.Matchers {
		if cr.matcher(i, r) {
			return true
		}
	}
	return false
}

func (cr *compiledRoute) matcher(i int, r Request) bool {
	m := &cr.r.Matchers[i]
	path, _, _ := strings.Cut(r.Path, "?")
	switch {
	case m.Port != 0 && m.Port != r.Port:
		return false
	case m.Method != "" && !strings.EqualFold(m.Method, r.Method):
		return false
	case m.Exact != "" && !(path == m.Exact || m.IgnoreCase && strings.EqualFold(path, m.Exact)):
		return false
	case m.Prefix != "" && !(strings.HasPrefix(path, m.Prefix) || m.IgnoreCase && len(path) >= len(m.Prefix) && strings.EqualFold(path[:len(m.Prefix)], m.Prefix)):
		return false
	case m.Regex != "" && (cr.paths[i] == nil || !cr.paths[i].MatchString(path)):
		return false
	}
	for h, hm := range m.Headers {
		var vals []string
		if r.Headers != nil {
			vals = r.Headers(hm.Name)
		}
		ok := false
		for _, v := range vals {
			switch {
			case hm.Regex:
				ok = cr.hdrs[i][h] != nil && cr.hdrs[i][h].MatchString(v)
			case hm.Value == "":
				ok = true
			default:
				ok = v == hm.Value
			}
			if ok {
				break
			}
		}
		if ok == hm.Invert {
			return false
		}
	}
	return true
}
