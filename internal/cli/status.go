package cli

import (
	"github.com/spf13/cobra"

	"egret.dev/egret/internal/adminclient"
	"egret.dev/egret/internal/report"
)

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
