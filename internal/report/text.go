package report

import (
	"fmt"
	"strings"

	"egret.dev/egret/internal/ir"
)

func listenerText(l ir.Listener) string {
	s := fmt.Sprintf("%d→%d %s %s %s", l.Port, l.TargetPort, dash(l.TLSMode), dash(l.Protocol), l.VirtualGateway)
	if l.Exposed == nil {
		return s + " [all services]"
	}
	var hs []string
	for _, e := range l.Exposed {
		if e.Namespace != "" {
			hs = append(hs, e.Namespace+"/"+string(e.Host))
		} else {
			hs = append(hs, string(e.Host))
		}
	}
	return s + " [" + strings.Join(hs, ",") + "]"
}

func portText(p ir.ServicePort) string {
	s := fmt.Sprintf("%s %d/%s", dash(p.Name), p.Number, dash(p.Protocol))
	if p.PortMatch != 0 {
		s += fmt.Sprintf(" via gateway on %d", p.PortMatch)
	}
	if p.TLS != nil {
		s += " tls=" + p.TLS.Mode
	}
	return s
}

func ruleText(r ir.Rule) string {
	var parts []string
	if r.Never != "" {
		parts = append(parts, "never ("+r.Never+")")
	}
	var clients []string
	for _, c := range r.Clients {
		clients = append(clients, clientText(c))
	}
	if len(clients) > 0 {
		parts = append(parts, "clients="+strings.Join(clients, ","))
	}
	if len(r.Methods) > 0 {
		parts = append(parts, "methods="+strings.Join(r.Methods, ","))
	}
	if len(r.Paths) > 0 {
		parts = append(parts, "paths="+strings.Join(r.Paths, ","))
	}
	for _, h := range r.Headers {
		parts = append(parts, fmt.Sprintf("header %s=%s!%s", h.Name, strings.Join(h.Values, ","), strings.Join(h.NotValues, ",")))
	}
	if r.DryRun {
		parts = append(parts, "dry-run")
	}
	if len(parts) == 0 {
		return "any caller"
	}
	return strings.Join(parts, " ")
}

func clientText(c ir.ClientMatch) string {
	var f []string
	if c.Cluster != "" {
		f = append(f, "cluster:"+c.Cluster)
	}
	if c.Namespace != "" {
		f = append(f, "ns:"+c.Namespace)
	}
	if c.ServiceAccount != "" {
		f = append(f, "sa:"+c.ServiceAccount)
	}
	if c.ByLabels {
		ids := make([]string, 0, len(c.Identities))
		for _, id := range c.Identities {
			ids = append(ids, id.String())
		}
		f = append(f, "labelled("+strings.Join(ids, " ")+")")
	}
	if len(f) == 0 {
		return "any identity"
	}
	return strings.Join(f, "/")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orAll(cluster string) string {
	if cluster == "" {
		return "(all)"
	}
	return cluster
}
