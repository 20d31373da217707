package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/adminclient"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/report"
)

func newGetCmd(s streams) *cobra.Command {
	var in inputFlags
	var admin string
	var out *outputFlags
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
		ValidArgs: report.PlanKinds,
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			if !slices.Contains(report.PlanKinds, kind) {
				return usagef("unknown kind %q: want one of %s", kind, strings.Join(report.PlanKinds, ", "))
			}
			if err := out.check(); err != nil {
				return err
			}
			var plan *ir.Plan
			var err error
			switch {
			case admin != "" && len(in.paths) > 0:
				return usagef("read files (-f) or a control plane (--admin), not both")
			case admin != "":
				plan, err = adminclient.Plan(admin)
			case len(in.paths) > 0:
				plan, err = in.plan(s)
			default:
				return usagef("name resources with -f PATH, or a running control plane with --admin ADDR")
			}
			if err != nil {
				return err
			}
			return report.Plan(s.out, plan, kind, out.format)
		},
	}
	in.register(cmd)
	out = addOutput(cmd, "output format: table, yaml or json", "table", "yaml", "json")
	cmd.Flags().StringVar(&admin, "admin", "", "read the plan a running control plane serves at its admin address (as 'egret status --admin')")
	deprecatedAlias(cmd, "control-plane-admin", "admin", &admin)
	return cmd
}

func newStatusCmd(s streams) *cobra.Command {
	var admin string
	var out *outputFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every proxy and resource of a running control plane (like istioctl proxy-status)",
		Long: `status asks a running control plane (its --admin address) for every proxy it has streamed a config
to, with its identity, cluster, kind, the version sent and acknowledged (SYNCED), rejected (NACKED, with
the error) or awaited (STALE), when it was last seen and when its certificate expires; then every
resource with its status, when the control plane last loaded its directory (with the error if that load
was not applied, and the files it skipped or kept at their last good contents), and the problems of a
change that was refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			st, err := adminclient.Status(admin)
			if err != nil {
				return err
			}
			if out.format != "table" {
				return report.Encode(s.out, out.format, st)
			}
			report.Status(s.out, st)
			return nil
		},
	}
	cmd.Flags().StringVar(&admin, "admin", "127.0.0.1:15014", "the control plane's admin address")
	out = addOutput(cmd, "output format: table, yaml or json", "table", "yaml", "json")
	return cmd
}
