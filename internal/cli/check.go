package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/ir"
)

// decider is what check needs from a plan: the same decision the proxies make.
type decider interface {
	Decide(ir.Request) ir.Decision
}

var _ decider = (*ir.Plan)(nil)

type checkFlags struct {
	in           inputFlags
	from         string
	fromWorkload string
	cluster      string
	to           string
	method       string
	path         string
	headers      []string
	opaque       bool
	output       string
}

func newCheckCmd(s streams) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check -f PATH... (--from SPIFFE_ID | --from-workload NS/NAME) --to URL|HOST:PORT",
		Short: "Ask whether a workload may reach an external host, and by which route",
		Long: `check translates the resources and asks the plan the question a proxy asks for every
request: may this identity reach this host and port with this method, path and headers?
It prints the decision, the reason, the policy, and for an allowed call the route: the
egress gateways in the order they are tried, the upstream host:port and TLS origination.

--to takes a URL (http:// means port 80 and https:// port 443 unless the URL names a port;
the path comes from the URL; an https URL is an opaque TLS stream, since the client encrypts
it) or host:port. Exit status: 0 allowed, 3 denied, 1 invalid input.`,
		Example: `  egret check -f examples/bookinfo-egress --from-workload bookinfo/reviews --to http://www.google.com/
  egret check -f examples/bookinfo-egress --from spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage --to www.google.com:80 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(s, &f)
		},
	}
	f.in.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "caller's SPIFFE ID (spiffe://<trust domain>/ns/<namespace>/sa/<service account>)")
	fl.StringVar(&f.fromWorkload, "from-workload", "", "caller Workload as namespace/name (its identity and cluster are used)")
	fl.StringVar(&f.cluster, "cluster", "", "caller's cluster (default: the workload's, or the cluster whose trust domain --from has)")
	fl.StringVar(&f.to, "to", "", "destination URL or host:port")
	fl.StringVar(&f.method, "method", "GET", "HTTP method")
	fl.StringVar(&f.path, "path", "", "HTTP path (default: the URL's path, or /)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fl.BoolVar(&f.opaque, "opaque", false, "the call is a TLS or TCP stream (no method, path or headers)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, yaml or json")
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagRequired("to")
	cmd.MarkFlagsOneRequired("from", "from-workload")
	cmd.MarkFlagsMutuallyExclusive("from", "from-workload")
	return cmd
}

func runCheck(s streams, f *checkFlags) error {
	if f.output == "text" { // the name -o had before every command said table
		f.output = "table"
	}
	if err := checkOutput(f.output, "table", "yaml", "json"); err != nil {
		return err
	}
	req, err := f.request()
	if err != nil {
		return withCode(ExitUsage, err)
	}
	plan, err := loadPlan(s, &f.in)
	if err != nil {
		return err
	}
	if f.fromWorkload != "" {
		ns, name, ok := strings.Cut(f.fromWorkload, "/")
		if !ok || ns == "" || name == "" {
			return withCode(ExitUsage, fmt.Errorf("--from-workload %q: want namespace/name", f.fromWorkload))
		}
		w := findWorkload(plan, ns, name)
		if w == nil {
			return withCode(ExitError, fmt.Errorf("--from-workload: no Workload %s/%s in the input", ns, name))
		}
		req.Source = w.Identity
		if req.Cluster == "" {
			req.Cluster = w.Cluster
		}
	}
	var dec decider = plan
	d := dec.Decide(req)
	if gd, ok := atGateway(dec, req, d); ok {
		// A gateway RouteTable: the sidecar only forwards; what happens is the gateway's decision.
		d = gd
	}
	if f.output != "table" {
		if err := encode(s.out, f.output, d); err != nil {
			return withCode(ExitError, err)
		}
	} else {
		printDecision(s.out, req, d, plan)
	}
	if !d.Allow {
		return withCode(ExitDenied, nil)
	}
	return nil
}

// request builds the Request from the flags, except the source of --from-workload (that needs the plan).
func (f *checkFlags) request() (ir.Request, error) {
	r := ir.Request{Cluster: f.cluster, Method: strings.ToUpper(f.method), Opaque: f.opaque}
	if f.from != "" {
		id, err := ir.ParseSpiffeID(f.from)
		if err != nil {
			return r, fmt.Errorf("--from: %w", err)
		}
		r.Source = id
	}
	host, port, path, opaque, err := parseTarget(f.to)
	if err != nil {
		return r, fmt.Errorf("--to: %w", err)
	}
	r.Host, r.Port, r.Path = host, port, path
	r.Opaque = r.Opaque || opaque
	if f.path != "" {
		r.Path = f.path
	}
	if r.Path == "" {
		r.Path = "/"
	}
	if r.Opaque {
		r.Method, r.Path = "", ""
	}
	if len(f.headers) > 0 {
		h := http.Header{}
		for _, kv := range f.headers {
			k, v, ok := strings.Cut(kv, ":")
			if !ok || strings.TrimSpace(k) == "" {
				return r, fmt.Errorf("-H %q: want 'Name: value'", kv)
			}
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		r.Headers = func(name string) []string { return h.Values(textproto.CanonicalMIMEHeaderKey(name)) }
	}
	return r, nil
}

// parseTarget reads a URL (http → 80, https → 443 and opaque, explicit port wins) or host:port.
func parseTarget(to string) (host string, port uint32, path string, opaque bool, err error) {
	if strings.Contains(to, "://") {
		u, err := url.Parse(to)
		if err != nil {
			return "", 0, "", false, err
		}
		switch u.Scheme {
		case "http":
			port = 80
		case "https":
			port, opaque = 443, true
		default:
			return "", 0, "", false, fmt.Errorf("scheme %q: want http or https (or give host:port)", u.Scheme)
		}
		if p := u.Port(); p != "" {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return "", 0, "", false, fmt.Errorf("port %q: want 1-65535", p)
			}
			port = uint32(n)
		}
		if u.Hostname() == "" {
			return "", 0, "", false, fmt.Errorf("%q has no host", to)
		}
		path = u.EscapedPath()
		if u.RawQuery != "" {
			path += "?" + u.RawQuery
		}
		return u.Hostname(), port, path, opaque, nil
	}
	h, p, err := net.SplitHostPort(to)
	if err != nil {
		return "", 0, "", false, fmt.Errorf("%q: want a URL or host:port", to)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 || h == "" {
		return "", 0, "", false, fmt.Errorf("%q: want a URL or host:port with a port 1-65535", to)
	}
	return h, uint32(n), "", false, nil
}

func findWorkload(plan *ir.Plan, ns, name string) *ir.Workload {
	for i := range plan.Workloads {
		if w := &plan.Workloads[i]; w.Namespace == ns && w.Name == name {
			return w
		}
	}
	return nil
}

// printDecision writes the decision as aligned "field: value" lines.
func printDecision(w io.Writer, r ir.Request, d ir.Decision, plan *ir.Plan) {
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
