package cli

import (
	"fmt"
	"io"
	"strings"

	"egret.dev/egret/internal/ir"
)

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

// printRouteTable adds the route table lines of a decision to check's output.
func printRouteTable(w io.Writer, d ir.Decision) {
	if d.RouteTable == "" {
		return
	}
	line := func(k, v string) { fmt.Fprintf(w, "%-9s %s\n", k+":", v) }
	line("route", "RouteTable "+d.RouteTable)
	if d.RoutedFrom != "" {
		line("routed", fmt.Sprintf("%s → %s:%d", d.RoutedFrom, d.Host, d.Port))
	}
	if len(d.Split) > 0 {
		var parts []string
		for _, s := range d.Split {
			parts = append(parts, fmt.Sprintf("%s:%d %d%%", s.ServiceID, s.Port, s.Weight))
		}
		line("split", strings.Join(parts, ", ")+" (this request's pick shown; each request picks anew)")
	}
}

// atGateway asks the decision again as the first gateway would, when a gateway RouteTable leaves the
// choice of service to the gateway; ok is false otherwise.
func atGateway(dec decider, r ir.Request, d ir.Decision) (ir.Decision, bool) {
	if d.Kind != ir.KindRouted || d.Service != "" || d.RouteTable == "" || len(d.Targets) == 0 {
		return ir.Decision{}, false
	}
	r.Gateway = d.Targets[0].GatewayID
	return dec.Decide(r), true
}
