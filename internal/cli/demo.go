package cli

import (
	"github.com/spf13/cobra"

	"egret.dev/egret/internal/demo"
	"egret.dev/egret/internal/supervisor"
)

func newDemoCmd(s streams) *cobra.Command {
	var keep bool
	var nets supervisor.UpOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the seed scenario end to end on this machine, on the embedded example",
		Long: `demo runs the whole system ('egret up') on the embedded Bookinfo example, with a local HTTPS
server standing in for www.google.com (its own CA; nothing leaves this machine), and walks through the
guide's steps, checking each answer:

  1. REGISTRY_ONLY, no ExternalService: a call to www.google.com is blocked (502) and logged.
  2. A VirtualGateway and an ExternalService: every workload reaches www.google.com through its
     cluster's egress gateway (mTLS in, TLS originated to port 443).
  3. The generated routing lists port 443 as the upstream.
  4. An AccessPolicy: reviews gets 403 "RBAC: access denied", productpage 200.
  5. Every proxy is in sync.
  6. Run as root on Linux: a transparent workload in its own network namespace reaches
     www.google.com only through its sidecar (the policy answers); a direct dial is refused.

Each step is applied by writing files into the directory the control plane watches, as a user would.
Logs go to files in a temporary directory (printed), removed when the demo ends (the logs are kept
when a step failed; the CA's keys never are); --keep leaves everything running afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo.Run(cmd.Context(), demo.Options{Keep: keep, GatewayNet: nets.GatewayNet, SidecarNet: nets.SidecarNet, Out: s.out})
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the system running after the scenario (Ctrl-C stops it)")
	addNetFlags(cmd, &nets)
	return cmd
}
