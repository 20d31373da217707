// Package report renders what egret's commands print: parts of a translated plan, a decision and a
// running control plane's status, as tables for people or as JSON or YAML for scripts.
package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"egret.dev/egret/internal/ir"
)

// PlanKinds are the parts of a plan that Plan prints.
var PlanKinds = []string{"routes", "gateways", "services", "policies", "workloads"}

// Plan writes one part of the plan (one of PlanKinds) to w: as JSON or YAML when output says so, else
// as a table (the routes as one line per way out).
func Plan(w io.Writer, plan *ir.Plan, kind, output string) error {
	if output == "json" || output == "yaml" {
		return Encode(w, output, planPart(plan, kind))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch kind {
	case "routes":
		Routes(w, plan)
	case "gateways":
		gatewaysTable(tw, plan.Gateways)
	case "services":
		servicesTable(tw, plan.Services)
	case "policies":
		policiesTable(tw, plan.Policies)
	case "workloads":
		fmt.Fprintln(tw, "NAMESPACE\tNAME\tCLUSTER\tSERVICE ACCOUNT\tIDENTITY")
		for _, wl := range plan.Workloads {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", wl.Namespace, wl.Name, wl.Cluster, wl.ServiceAccount, wl.Identity)
		}
	}
	return tw.Flush()
}

func planPart(plan *ir.Plan, kind string) any {
	switch kind {
	case "routes":
		return plan.Routes
	case "gateways":
		return plan.Gateways
	case "services":
		return plan.Services
	case "policies":
		return plan.Policies
	case "workloads":
		return plan.Workloads
	}
	return nil
}

func gatewaysTable(tw io.Writer, gateways []ir.Gateway) {
	fmt.Fprintln(tw, "CLUSTER\tNAMESPACE\tNAME\tREVISION\tACTIVE\tIDENTITY\tPORTS\tLISTENERS")
	for _, g := range gateways {
		var ports, listeners []string
		for _, p := range g.ServicePorts {
			ports = append(ports, fmt.Sprintf("%d→%d", p.Port, p.TargetPort))
		}
		for _, l := range g.Listeners {
			listeners = append(listeners, listenerText(l))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\n", g.Cluster, g.Namespace, g.Name, dash(g.Revision), g.Active, g.Identity,
			strings.Join(ports, ","), dash(strings.Join(listeners, "; ")))
	}
}

func servicesTable(tw io.Writer, services []ir.ExternalService) {
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tCLUSTER\tHOSTS\tPORTS")
	for _, sv := range services {
		hosts := make([]string, 0, len(sv.Hosts)+len(sv.Addresses))
		for _, h := range sv.Hosts {
			hosts = append(hosts, string(h))
		}
		hosts = append(hosts, sv.Addresses...)
		var ports []string
		for _, p := range sv.Ports {
			ports = append(ports, portText(p))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sv.Namespace, sv.Name, orAll(sv.Cluster), strings.Join(hosts, ","), strings.Join(ports, "; "))
	}
}

func policiesTable(tw io.Writer, policies []ir.Policy) {
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tAPPLIES TO\tRULES")
	for _, p := range policies {
		var targets, rules []string
		for _, t := range p.Targets {
			if t.Port == 0 {
				targets = append(targets, t.ServiceID)
			} else {
				targets = append(targets, fmt.Sprintf("%s:%d", t.ServiceID, t.Port))
			}
		}
		for _, r := range p.Rules {
			rules = append(rules, ruleText(r))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Namespace, p.Name, dash(strings.Join(targets, ",")), dash(strings.Join(rules, " | ")))
	}
}
