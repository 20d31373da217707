package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/adminclient"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/offline"
	"egret.dev/egret/internal/report"
)

// loadPlan loads and translates the resources, every problem to standard error (offline.Plan).
func loadPlan(s streams, in *inputFlags) (*ir.Plan, error) {
	snap, err := in.load(s)
	plan, err := offline.Plan(s.err, snap, err)
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	return plan, nil
}

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
		ValidArgs: report.PlanKinds,
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			if !slices.Contains(report.PlanKinds, kind) {
				return withCode(ExitUsage, fmt.Errorf("unknown kind %q: want one of %s", kind, strings.Join(report.PlanKinds, ", ")))
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
				if plan, err = adminclient.Plan(admin); err != nil {
					return withCode(ExitError, err)
				}
			case len(in.paths) > 0:
				if plan, err = loadPlan(s, &in); err != nil {
					return err
				}
			default:
				return withCode(ExitUsage, errors.New("name resources with -f PATH, or a running control plane with --admin ADDR"))
			}
			return report.Plan(s.out, plan, kind, output)
		},
	}
	in.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	cmd.Flags().StringVar(&admin, "admin", "", "read the plan a running control plane serves at its admin address (as 'egret status --admin')")
	deprecatedAlias(cmd, "control-plane-admin", "admin", &admin)
	return cmd
}
