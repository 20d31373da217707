package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/check"
	"egret.dev/egret/internal/report"
)

func newCheckCmd(s streams) *cobra.Command {
	var in inputFlags
	var q check.Query
	var fromWorkload string
	var out *outputFlags
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
			if out.format == "text" { // the name -o had before every command said table
				out.format = "table"
			}
			if err := out.check(); err != nil {
				return err
			}
			req, err := q.Request()
			if err != nil {
				return withCode(ExitUsage, err)
			}
			plan, err := in.plan(s)
			if err != nil {
				return err
			}
			if fromWorkload != "" {
				ns, name, ok := strings.Cut(fromWorkload, "/")
				if !ok || ns == "" || name == "" {
					return usagef("--from-workload %q: want namespace/name", fromWorkload)
				}
				if err := check.Workload(plan, &req, ns, name); err != nil {
					return err
				}
			}
			d := check.Decide(plan, req)
			if out.format != "table" {
				err = report.Encode(s.out, out.format, d)
			} else {
				report.Decision(s.out, req, d, plan)
			}
			if err == nil && !d.Allow {
				return withCode(ExitDenied, nil)
			}
			return err
		},
	}
	in.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&q.From, "from", "", "caller's SPIFFE ID (spiffe://<trust domain>/ns/<namespace>/sa/<service account>)")
	fl.StringVar(&fromWorkload, "from-workload", "", "caller Workload as namespace/name (its identity and cluster are used)")
	fl.StringVar(&q.Cluster, "cluster", "", "caller's cluster (default: the workload's, or the cluster whose trust domain --from has)")
	fl.StringVar(&q.To, "to", "", "destination URL or host:port")
	fl.StringVar(&q.Method, "method", "GET", "HTTP method")
	fl.StringVar(&q.Path, "path", "", "HTTP path (default: the URL's path, or /)")
	fl.StringArrayVarP(&q.Headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fl.BoolVar(&q.Opaque, "opaque", false, "the call is a TLS or TCP stream (no method, path or headers)")
	out = addOutput(cmd, "output format: table, yaml or json", "table", "yaml", "json")
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagRequired("to")
	cmd.MarkFlagsOneRequired("from", "from-workload")
	cmd.MarkFlagsMutuallyExclusive("from", "from-workload")
	return cmd
}
