package cli

import (
	"github.com/spf13/cobra"

	"egret.dev/egret/internal/demo"
	"egret.dev/egret/internal/sidecar"
	"egret.dev/egret/internal/supervisor"
)

func newUpCmd(s streams) *cobra.Command {
	var f supervisor.UpOptions
	cmd := &cobra.Command{
		Use:   "up -f DIR",
		Short: "Run the whole system on this machine: control plane, gateways, sidecars",
		Long: `up runs, in one process, the control plane on the resources under DIR (watched: edit a file and
every proxy converges), one egress gateway per GatewayLifecycleManager installation and cluster, each
on its own loopback address (127.0.1.1, 127.0.1.2, ... in gateway ID order, listening on its target
ports, e.g. 8443), and a sidecar for each Workload. Every proxy enrolls with a join token and streams its
config from the control plane, like a fleet would. Gateways and Workloads added while up runs are started,
removed ones are stopped.

An explicit-mode Workload's sidecar listens on its sidecar.listen, else 127.0.2.1:15001, 127.0.2.2:15001,
... (point HTTP_PROXY at it). A Workload with sidecar.mode: transparent, when up runs as root on Linux,
gets its own network namespace (egret-<hash>, with a veth to the host): its sidecar redirects the
namespace's outbound TCP with nftables, and the namespace's filter rules let nothing else out, so a
program there that ignores proxies or dials an address directly cannot get out. Run programs there with
'egret exec NAMESPACE/NAME -- CMD'. Namespaces, veths and rules are removed when up exits; the next up
removes what a crashed one left.

It prints what runs where, writes access logs to standard output and JSON logs (each with a
"component") to standard error, and stops everything on Ctrl-C or SIGTERM.`,
		Example: `  egret up -f examples/bookinfo-egress
  curl -x http://127.0.2.1:15001 http://www.google.com/     # productpage's sidecar
  egret exec bookinfo/details -- curl http://www.google.com/   # a transparent workload (root)
  egret status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.Stdout, f.Log = s.out, s.log()
			u, err := supervisor.StartUp(cmd.Context(), f)
			if err != nil {
				return err
			}
			u.Print(s.out)
			return u.Wait()
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.Dir, "filename", "f", "", "directory of resources (watched)")
	addDataDirFlag(cmd, &f.DataDir, "CA data directory (root key 0600, join tokens), created if missing; 'egret token create' and 'egret ca' read it")
	fl.StringVar(&f.Listen, "listen", "127.0.0.1:15012", "control plane TLS address")
	fl.StringVar(&f.Admin, "admin", "127.0.0.1:15014", "control plane admin address (egret status)")
	fl.StringVar(&f.DNSServer, "dns-server", "", "DNS server for the gateways (default: the system resolver)")
	fl.StringVar(&f.UpstreamCA, "upstream-ca", "", "CA bundle the gateways verify external hosts against when an ExternalService names none")
	fl.StringArrayVar(&f.Resolve, "resolve", nil, "HOST:PORT=ADDR sent to the gateways (repeatable)")
	fl.BoolVar(&f.Standin, "standin", false, "answer for every external host with a local server (HTTPS under a CA of its own, which the gateways trust): try the resources without reaching the internet")
	fl.IntVar(&f.SidecarMaxConns, "sidecar-max-connections", 0, "connections each sidecar holds at once (default: an eighth of the open-file limit, at most 1024)")
	fl.IntVar(&f.GatewayMaxConns, "gateway-max-connections", 0, "connections each gateway listener holds at once (default: a quarter of the open-file limit, at most 10000)")
	addNetFlags(cmd, &f)
	fl.DurationVar(&f.ConnectTimeout, "gateway-connect-timeout", sidecar.DefaultConnectTimeout, "how long a sidecar's connection to a gateway (TCP and TLS) may take before the call fails over (see egret sidecar)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func addNetFlags(cmd *cobra.Command, f *supervisor.UpOptions) {
	cmd.Flags().StringVar(&f.GatewayNet, "gateway-net", "127.0.1", "gateways get loopback addresses NET.1, NET.2, ...")
	cmd.Flags().StringVar(&f.SidecarNet, "sidecar-net", "127.0.2", "sidecars without sidecar.listen get NET.1:15001, NET.2:15001, ...")
}

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
