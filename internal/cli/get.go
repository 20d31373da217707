package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/translate"
)

// loadPlan loads and translates the resources. Every problem goes to standard error; an input that does
// not decode or has an invalid resource is refused (exit 1), because answering from a partial plan could
// allow what the full one denies.
func loadPlan(s streams, in *inputFlags) (*ir.Plan, error) {
	snap, err := in.load(s)
	var decode api.Problems
	if err != nil && !errors.As(err, &decode) {
		return nil, withCode(ExitError, err)
	}
	for _, p := range decode {
		fmt.Fprintln(s.err, p.Error())
	}
	res := translate.Translate(snap)
	for _, p := range res.Problems() {
		fmt.Fprintln(s.err, p.Error())
	}
	// Objects of Gloo kinds egret does not implement are errors on themselves, and ignored: they block nothing.
	if len(decode.Blocking()) > 0 || len(api.Problems(res.Problems()).Blocking()) > 0 {
		return nil, withCode(ExitError, errors.New("invalid input: fix the errors above"))
	}
	return res.Plan, nil
}

var getKinds = []string{"routes", "gateways", "services", "policies", "workloads"}

func newGetCmd(s streams) *cobra.Command {
	var in inputFlags
	var output, admin string
	cmd := &cobra.Command{
		Use:   "get routes|gateways|services|policies|workloads (-f PATH... | --admin ADDR)",
		Short: "Print a part of the translated plan",
		Long: `get translates the resources as the control plane does and prints one part of the
resulting plan: the egress routes (client host:port → gateway → upstream host:port and TLS),
the gateway instances and their listeners, the external services, the compiled access
policies or the workloads and their SPIFFE identities.`,
		Example: `  egret get routes -f examples/bookinfo-egress
  egret get gateways -f examples/bookinfo-egress -o yaml
  egret get routes --admin 127.0.0.1:15014            # the plan a running control plane serves`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: getKinds,
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			if !slices.Contains(getKinds, kind) {
				return withCode(ExitUsage, fmt.Errorf("unknown kind %q: want one of %s", kind, strings.Join(getKinds, ", ")))
			}
			if err := checkOutput(output, "table", "yaml", "json"); err != nil {
				return err
			}
			var plan *ir.Plan
			var err error
			switch {
			case admin != "" && len(in.paths) > 0:
				return withCode(ExitUsage, errors.New("read files (-f) or a control plane (--admin), not both"))
			case admin != "":
				plan, err = fetchPlan(admin)
			case len(in.paths) > 0:
				plan, err = loadPlan(s, &in)
			default:
				return withCode(ExitUsage, errors.New("name resources with -f PATH, or a running control plane with --admin ADDR"))
			}
			if err != nil {
				return err
			}
			return printPlanPart(s.out, plan, kind, output)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	cmd.Flags().StringVar(&admin, "admin", "", "read the plan a running control plane serves at its admin address (as 'egret status --admin')")
	deprecatedAlias(cmd, "control-plane-admin", "admin", &admin)
	return cmd
}

// fetchPlan reads the plan a running control plane serves.
func fetchPlan(admin string) (*ir.Plan, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + admin + "/plan")
	if err != nil {
		return nil, withCode(ExitError, fmt.Errorf("control plane at %s: %w", admin, err))
	}
	defer resp.Body.Close()
	var plan ir.Plan
	if err := json.NewDecoder(resp.Body).Decode(&plan); err != nil {
		return nil, withCode(ExitError, fmt.Errorf("control plane at %s: %w", admin, err))
	}
	return plan.Compile(), nil
}

func printPlanPart(w io.Writer, plan *ir.Plan, kind, output string) error {
	var part any
	switch kind {
	case "routes":
		part = plan.Routes
	case "gateways":
		part = plan.Gateways
	case "services":
		part = plan.Services
	case "policies":
		part = plan.Policies
	case "workloads":
		part = plan.Workloads
	}
	if output == "json" || output == "yaml" {
		return encode(w, output, part)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch kind {
	case "routes":
		routesTable(w, plan)
	case "gateways":
		fmt.Fprintln(tw, "CLUSTER\tNAMESPACE\tNAME\tREVISION\tACTIVE\tIDENTITY\tPORTS\tLISTENERS")
		for _, g := range plan.Gateways {
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
	case "services":
		fmt.Fprintln(tw, "NAMESPACE\tNAME\tCLUSTER\tHOSTS\tPORTS")
		for _, sv := range plan.Services {
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
	case "policies":
		fmt.Fprintln(tw, "NAMESPACE\tNAME\tAPPLIES TO\tRULES")
		for _, p := range plan.Policies {
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
	case "workloads":
		fmt.Fprintln(tw, "NAMESPACE\tNAME\tCLUSTER\tSERVICE ACCOUNT\tIDENTITY")
		for _, wl := range plan.Workloads {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", wl.Namespace, wl.Name, wl.Cluster, wl.ServiceAccount, wl.Identity)
		}
	}
	return tw.Flush()
}

// routesTable prints one line per way out: host:port called → gateway (or direct) → upstream and TLS.
func routesTable(w io.Writer, plan *ir.Plan) {
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
