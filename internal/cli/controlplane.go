package cli

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/controlplane"
)

func newControlPlaneCmd(s streams) *cobra.Command {
	var p controlplane.Params
	var addrs []string
	cmd := &cobra.Command{
		Use:   "controlplane -f DIR --data-dir DIR",
		Short: "Run the control plane: watch, translate, distribute, report",
		Long: `controlplane loads every resource under -f, watches it, and validates and translates
each change. A change with any invalid resource is reported (log and 'egret status') and the last good
configuration keeps being served: never a partial one.

On --listen (TLS, 15012) it serves join-token enrollment and SVID renewal (see 'egret token create') and
a delta xDS stream per proxy (gRPC): each gateway and sidecar, identified by its SVID,
gets its slice of the plan, versioned by content hash, and acknowledges or rejects each version. On
--admin (plain HTTP, loopback) it serves /status (what 'egret status' prints), /plan and /healthz/ready.`,
		Example: `  egret controlplane -f examples/bookinfo-egress --data-dir /var/lib/egret \
    --gateway-address cluster1/gloo-mesh-gateways/istio-egressgateway=127.0.1.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p.GatewayAddresses = map[string]string{}
			for _, a := range addrs {
				id, addr, ok := strings.Cut(a, "=")
				if !ok {
					return withCode(ExitUsage, fmt.Errorf("--gateway-address %q: want ID=HOST[:PORT]", a))
				}
				p.GatewayAddresses[id] = addr
			}
			p.Log = slog.New(slog.NewJSONHandler(s.err, nil))
			cp, err := controlplane.New(p)
			if err != nil {
				return withCode(ExitError, err)
			}
			if err := cp.Start(); err != nil {
				return withCode(ExitError, err)
			}
			return cp.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&p.ConfigDir, "filename", "f", "", "directory of resource files, watched (as 'egret up -f')")
	deprecatedAlias(cmd, "config-dir", "filename", &p.ConfigDir)
	addDataDirFlag(fl, &p.DataDir, "CA data directory (root key 0600, join tokens), created if missing")
	fl.StringVar(&p.Listen, "listen", "127.0.0.1:15012", "TLS address for enrollment and config streams")
	fl.StringVar(&p.Admin, "admin", "127.0.0.1:15014", "plain HTTP admin address (/status, /plan); keep it on loopback")
	fl.StringVar(&p.TrustDomain, "trust-domain", "cluster1", "trust domain of the control plane's own certificate")
	fl.StringArrayVar(&addrs, "gateway-address", nil, "where sidecars reach a gateway, ID=HOST or ID=HOST:PORT (repeatable)")
	cmd.MarkFlagsOneRequired("filename", "config-dir")
	return cmd
}
