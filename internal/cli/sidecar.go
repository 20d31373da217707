package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/intercept"
	"egret.dev/egret/internal/sidecar"
)

// sidecarFlags are the flags of `egret sidecar` that are not sidecar.Options fields as they are.
type sidecarFlags struct {
	o             sidecar.Options
	accessLogFile string
	dp            dataPlaneFlags
	id            identityFlags
}

func newSidecarCmd(s streams) *cobra.Command {
	var f sidecarFlags
	cmd := &cobra.Command{
		Use:   "sidecar --config FILE (--cert --key --bundle | --control-plane ADDR --token T)",
		Short: "Run a workload's sidecar: the workload's only way out",
		Long: `sidecar runs one workload's outbound proxy from a native config (written by
'egret render sidecar-config').

Explicit mode (the default; any OS, no root) is an HTTP proxy on --listen (127.0.0.1:15001): point
HTTP_PROXY and HTTPS_PROXY at it, or use curl -x. Transparent mode (--transparent; Linux, root) installs
nftables rules in the sidecar's network namespace that redirect the workload's outbound TCP to the
sidecar (its own connections are exempt by socket mark), and removes them on exit.

Each call is decided by the shared decision: a host:port that an ExternalService routes through egress
gateways goes to the gateway of the workload's own cluster first (HTTP as HTTP/2 requests with the
original authority, TLS and TCP as CONNECT streams, all over mTLS with the workload's SVID, the
gateway's SPIFFE ID verified), failing over to the others; a registered service without egress routes
and, under ALLOW_ANY, an unknown host are reached directly; under REGISTRY_ONLY an unknown host gets 502
with an empty body (HTTP) or a closed connection (TLS, TCP), and a log line naming the workload, the host
and the reason.`,
		Example: `  egret render sidecar-config -f examples/bookinfo-egress --workload bookinfo/productpage \
    --gateway-address cluster1/gloo-mesh-gateways/istio-egressgateway=127.0.0.1:8443 --out pp.json
  egret sidecar --config pp.json --cert pp/svid.pem --key pp/key.pem --bundle pp/bundle.pem &
  curl -x http://127.0.0.1:15001 http://www.google.com/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSidecar(cmd.Context(), s, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.o.Config, "config", "", "sidecar config file (from 'egret render sidecar-config'); omit with --control-plane to stream it")
	fl.StringVar(&f.o.Listen, "listen", "", "proxy address (default: the Workload's sidecar.listen, else 127.0.0.1:15001)")
	fl.BoolVar(&f.o.Transparent, "transparent", false, "redirect this network namespace's outbound TCP to the sidecar with nftables (Linux, root)")
	fl.StringVar(&f.o.NetNS, "netns", "", "with --transparent: install the rules and listen in this network namespace (e.g. /var/run/netns/NAME); the sidecar's own connections leave from its own namespace")
	fl.IntVar(&f.o.BypassMark, "bypass-mark", int(intercept.DefaultBypassMark), "socket mark of the sidecar's own connections, exempt from the redirect")
	fl.StringVar(&f.accessLogFile, "access-log", "-", "access log file (- for standard output, off for none)")
	f.dp.register(fl)
	addSidecarLimitFlags(fl, &f.o.Limits)
	fl.StringVar(&f.o.Admin, "admin", "", "admin address (/stats/prometheus, /config_dump, /healthz/ready), e.g. 127.0.0.1:15000; empty to disable")
	fl.DurationVar(&f.o.ConnectTimeout, "gateway-connect-timeout", sidecar.DefaultConnectTimeout, "how long connecting to a gateway (TCP and TLS) may take before the call goes to another gateway, or gets 503 UF when there is none; a gateway failing twice in a row is ejected for a growing back-off")
	f.id.register(cmd)

	return cmd
}

func runSidecar(ctx context.Context, s streams, f sidecarFlags) error {
	id, err := f.id.options()
	if err != nil {
		return err
	}
	o := f.o
	o.Identity, o.Pprof, o.AccessLog = id, f.dp.pprof, f.dp.accessLog(s, f.accessLogFile, "")
	o.Log = slog.New(slog.NewJSONHandler(s.err, nil))
	return proxyExit(sidecar.Run(ctx, o))
}
