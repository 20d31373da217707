package cli

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/sidecar"
	"egret.dev/egret/internal/supervisor"
)

// upFlags are the flags of `egret up` (and the demo, which runs the same thing).
type upFlags struct {
	dir        string
	dataDir    string
	listen     string
	admin      string
	dnsServer  string
	upstreamCA string
	overrides  []string
	// standin starts a local server for every external host and points the gateways at it.
	standin bool
	// gatewayNet and sidecarNet are the first three octets of the loopback addresses handed out.
	gatewayNet, sidecarNet string
	// sidecarMaxConns and gatewayMaxConns bound each proxy's connections; 0 = derived from the file limit.
	sidecarMaxConns, gatewayMaxConns int
	// poll is how often up looks for a new plan (gateways and workloads to start or stop); 0 = 300 ms.
	poll time.Duration
	// connectTimeout is the sidecars' --gateway-connect-timeout; 0 = the sidecar's default.
	connectTimeout time.Duration
}

func newUpCmd(s streams) *cobra.Command {
	var f upFlags
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
			u, err := supervisor.StartUp(cmd.Context(), f.options(s))
			if err != nil {
				return proxyExit(err)
			}
			u.Print(s.out)
			return proxyExit(u.Wait())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.dir, "filename", "f", "", "directory of resources (watched)")
	addDataDirFlag(fl, &f.dataDir, "CA data directory (root key 0600, join tokens), created if missing; 'egret token create' and 'egret ca' read it")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:15012", "control plane TLS address")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:15014", "control plane admin address (egret status)")
	fl.StringVar(&f.dnsServer, "dns-server", "", "DNS server for the gateways (default: the system resolver)")
	fl.StringVar(&f.upstreamCA, "upstream-ca", "", "CA bundle the gateways verify external hosts against when an ExternalService names none")
	fl.StringArrayVar(&f.overrides, "resolve", nil, "HOST:PORT=ADDR sent to the gateways (repeatable)")
	fl.BoolVar(&f.standin, "standin", false, "answer for every external host with a local server (HTTPS under a CA of its own, which the gateways trust): try the resources without reaching the internet")
	fl.IntVar(&f.sidecarMaxConns, "sidecar-max-connections", 0, "connections each sidecar holds at once (default: an eighth of the open-file limit, at most 1024)")
	fl.IntVar(&f.gatewayMaxConns, "gateway-max-connections", 0, "connections each gateway listener holds at once (default: a quarter of the open-file limit, at most 10000)")
	addNetFlags(cmd, &f)
	fl.DurationVar(&f.connectTimeout, "gateway-connect-timeout", sidecar.DefaultConnectTimeout, "how long a sidecar's connection to a gateway (TCP and TLS) may take before the call fails over (see egret sidecar)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func addNetFlags(cmd *cobra.Command, f *upFlags) {
	cmd.Flags().StringVar(&f.gatewayNet, "gateway-net", "127.0.1", "gateways get loopback addresses NET.1, NET.2, ...")
	cmd.Flags().StringVar(&f.sidecarNet, "sidecar-net", "127.0.2", "sidecars without sidecar.listen get NET.1:15001, NET.2:15001, ...")
}

// options turns up's flags into supervisor.UpOptions; proxies log to s.
func (f upFlags) options(s streams) supervisor.UpOptions {
	if f.dataDir == "" {
		f.dataDir = defaultDataDir()
	}
	return supervisor.UpOptions{
		Dir: f.dir, DataDir: f.dataDir, Listen: f.listen, Admin: f.admin,
		DNSServer: f.dnsServer, UpstreamCA: f.upstreamCA, Resolve: f.overrides, Standin: f.standin,
		GatewayNet: f.gatewayNet, SidecarNet: f.sidecarNet,
		SidecarMaxConns: f.sidecarMaxConns, GatewayMaxConns: f.gatewayMaxConns,
		Poll: f.poll, ConnectTimeout: f.connectTimeout,
		Stdout: s.out, Log: slog.New(slog.NewJSONHandler(s.err, nil)),
	}
}
