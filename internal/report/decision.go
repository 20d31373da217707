package report

import (
	"fmt"
	"io"
	"strings"

	"egret.dev/egret/internal/ir"
)

// Decision writes the decision as aligned "field: value" lines.
func Decision(w io.Writer, r ir.Request, d ir.Decision, plan *ir.Plan) {
	verdict := "DENY"
	if d.Allow {
		verdict = "ALLOW"
	}
	line := func(k, v string) { fmt.Fprintf(w, "%-9s %s\n", k+":", v) }
	line("decision", fmt.Sprintf("%s (%s)", verdict, d.Kind))
	what := fmt.Sprintf("%s:%d", d.Host, d.Port)
	if d.RoutedFrom != "" {
		what = d.RoutedFrom // what the caller asked for; "routed" says where the RouteTable sent it
	}
	if r.Opaque {
		what = "TLS/TCP " + what
	} else {
		what = r.Method + " " + what + r.Path
	}
	from := "an unauthenticated caller"
	if d.Source != "" {
		from = d.Source
	}
	if d.Cluster != "" {
		from += " in " + d.Cluster
	}
	line("request", what+" from "+from)
	line("reason", d.Reason)
	printRouteTable(w, d)
	if d.Policy != "" {
		line("policy", d.Policy)
	}
	if d.Service != "" {
		line("service", fmt.Sprintf("ExternalService %s port %d", d.Service, d.ServicePort))
	}
	if d.Visibility != "" {
		line("workspace", d.Visibility)
	}
	if d.Overlap != "" {
		line("overlap", d.Overlap)
	}
	if !d.Allow {
		line("answer", answer(d, r.Opaque))
	}
	for _, t := range d.Targets {
		line("gateway", fmt.Sprintf("%s (listener %d→%d)", t.GatewayID, t.ListenerPort, t.TargetPort))
	}
	if d.Allow && d.Kind != ir.KindPassthrough || d.Kind == ir.KindNoRoute || d.Kind == ir.KindNoEndpoints {
		line("upstream", d.Upstream)
		if e := endpointsText(d); e != "" {
			line("endpoints", e)
		}
		if d.TLSMode != "" {
			line("tls", d.TLSMode+" sni="+d.SNI)
		} else if passthrough(findPort(plan, d.Service, d.ServicePort)) {
			line("tls", "passthrough (the caller's own TLS, end to end to the upstream)")
		} else {
			line("tls", "none (plaintext to the upstream)")
		}
	} else if d.Kind == ir.KindPassthrough {
		line("upstream", d.Upstream+" (direct, not through a gateway)")
	}
	if d.DryRunDeny {
		line("dry-run", "would deny: "+d.DryRunReason)
	}
}

// answer is what the caller would see from its sidecar or the gateway.
func answer(d ir.Decision, opaque bool) string {
	if opaque {
		return "connection closed"
	}
	switch d.Kind {
	case ir.KindNotInRegistry:
		return "502 (empty body)"
	case ir.KindNoRoute, ir.KindNoEndpoints:
		return "503"
	case ir.KindRouteNotFound:
		return "404"
	}
	return "403 " + ir.DeniedBody
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

// endpointsText is the decision's ExternalEndpoints for `egret check`, or "" when the host is dialled itself.
func endpointsText(d ir.Decision) string {
	if d.Kind == ir.KindNoEndpoints {
		return "none (the service selects ExternalEndpoints and none serves this port)"
	}
	return strings.Join(ir.EndpointAddresses(d.Endpoints), ", ")
}
