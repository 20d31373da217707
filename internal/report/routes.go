package report

import (
	"fmt"
	"io"
	"strings"

	"egret.dev/egret/internal/ir"
)

// Routes prints one line per way out: host:port called → gateway (or direct) → upstream and TLS.
func Routes(w io.Writer, plan *ir.Plan) {
	for _, r := range plan.Routes {
		sp := findPort(plan, r.ServiceID, r.Port)
		upstream := upstreamText(r.Host, sp)
		if len(r.Targets) == 0 {
			fmt.Fprintf(w, "%s:%d → (no gateway) → %s %s\n", r.Host, r.PortMatch, upstream, tlsText(sp, r.Host))
			continue
		}
		for _, t := range r.Targets {
			fmt.Fprintf(w, "%s:%d → %s (listener %d→%d) → %s %s\n", r.Host, r.PortMatch, t.GatewayID, t.ListenerPort, t.TargetPort, upstream, tlsText(sp, r.Host))
		}
	}
	for _, sv := range plan.Services {
		for _, sp := range sv.Ports {
			if sp.PortMatch != 0 {
				continue
			}
			for _, h := range sv.Hosts {
				fmt.Fprintf(w, "%s:%d → direct → %s %s\n", h, sp.Number, upstreamText(h, &sp), tlsText(&sp, h))
			}
		}
	}
	routeTableLines(w, plan)
}

func findPort(plan *ir.Plan, serviceID string, number uint32) *ir.ServicePort {
	for i := range plan.Services {
		sv := &plan.Services[i]
		if sv.ID != serviceID {
			continue
		}
		for j := range sv.Ports {
			if sv.Ports[j].Number == number {
				return &sv.Ports[j]
			}
		}
	}
	return nil
}

func upstreamPort(sp *ir.ServicePort) uint32 {
	switch {
	case sp == nil:
		return 0
	case sp.TargetPort == 0:
		return sp.Number
	}
	return sp.TargetPort
}

// tlsText describes TLS origination: "SIMPLE sni=www.google.com", "passthrough (caller's TLS)" or
// "plaintext".
func tlsText(sp *ir.ServicePort, host ir.HostPattern) string {
	if sp == nil || sp.TLS == nil || sp.TLS.Mode == "DISABLE" {
		if passthrough(sp) {
			return "passthrough (caller's TLS)"
		}
		return "plaintext"
	}
	sni := sp.TLS.SNI
	if sni == "" {
		if host.IsWildcard() {
			sni = "<requested host>"
		} else {
			sni = string(host)
		}
	}
	return sp.TLS.Mode + " sni=" + sni
}

// passthrough says a port carries the caller's own TLS untouched: a TLS or HTTPS port for which no
// proxy originates TLS (CONNECT tunnels, SNI routing). It is not plaintext: the bytes are encrypted end to
// end between the workload and the external host.
func passthrough(sp *ir.ServicePort) bool {
	return sp != nil && (sp.TLS == nil || sp.TLS.Mode == "DISABLE") && (sp.Protocol == "TLS" || sp.Protocol == "HTTPS")
}

// routeTableLines prints one line per route-table route: the hosts and match, where the route applies,
// and the weighted destinations.
func routeTableLines(w io.Writer, plan *ir.Plan) {
	for _, t := range plan.RouteTables {
		hosts := make([]string, len(t.Hosts))
		for i, h := range t.Hosts {
			hosts[i] = string(h)
		}
		for _, r := range t.Routes {
			var dests []string
			for _, d := range r.Destinations {
				dests = append(dests, fmt.Sprintf("%s:%d (%d%%)", d.ServiceID, d.Port, d.Weight))
			}
			fmt.Fprintf(w, "%s %s [%s] → RouteTable %s %s → %s\n", strings.Join(hosts, ","), matchText(r.Matchers),
				appliesText(t), t.ID, r.Name, strings.Join(dests, ", "))
		}
	}
}

func appliesText(t ir.RouteTable) string {
	var where []string
	switch {
	case t.Mesh && t.AllCallers:
		where = append(where, "sidecars of every workload")
	case t.Mesh:
		ids := make([]string, len(t.Callers))
		for i, c := range t.Callers {
			ids[i] = c.String()
		}
		where = append(where, "sidecars of "+dash(strings.Join(ids, ",")))
	}
	seen := map[string]bool{}
	for _, g := range t.Gateways {
		if !seen[g.GatewayID] {
			seen[g.GatewayID] = true
			where = append(where, "gateway "+g.GatewayID)
		}
	}
	if len(where) == 0 {
		return "nowhere"
	}
	return strings.Join(where, "; ")
}

// matchText is a route's matchers in short form: "GET /a*" for a prefix, "~regex", "*" for anything.
func matchText(ms []ir.RouteMatcher) string {
	if len(ms) == 0 {
		return "*"
	}
	var out []string
	for _, m := range ms {
		var parts []string
		if m.Method != "" {
			parts = append(parts, m.Method)
		}
		switch {
		case m.Exact != "":
			parts = append(parts, m.Exact)
		case m.Prefix != "":
			parts = append(parts, m.Prefix+"*")
		case m.Regex != "":
			parts = append(parts, "~"+m.Regex)
		}
		if m.IgnoreCase {
			parts = append(parts, "(any case)")
		}
		if m.Port != 0 {
			parts = append(parts, fmt.Sprintf("port %d", m.Port))
		}
		for _, h := range m.Headers {
			op := "="
			switch {
			case h.Regex:
				op = "~"
			case h.Value == "":
				op = " present"
			}
			s := h.Name + op + h.Value
			if h.Invert {
				s = "not " + s
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			parts = append(parts, "*")
		}
		out = append(out, strings.Join(parts, " "))
	}
	return strings.Join(out, " | ")
}

// upstreamText is where a service port's calls go: host:port, followed by the ExternalEndpoints dialled
// instead of the host's own addresses when the service selects any.
func upstreamText(host ir.HostPattern, sp *ir.ServicePort) string {
	s := fmt.Sprintf("%s:%d", host, upstreamPort(sp))
	switch {
	case sp == nil:
	case sp.NoEndpoints != "":
		s += " endpoints=none (calls get 503)"
	case len(sp.Endpoints) > 0:
		s += " endpoints=" + strings.Join(ir.EndpointAddresses(sp.Endpoints), ",")
	}
	return s
}
