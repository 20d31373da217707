package cli

import (
	"github.com/spf13/cobra"

	"egret.dev/egret/internal/intercept"
	"egret.dev/egret/internal/proxyrun"
	"egret.dev/egret/internal/sidecar"
)

func newSidecarCmd(s streams) *cobra.Command {
	var o sidecar.Options
	var p *proxyFlags
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Log, err = p.complete(s); err != nil {
				return err
			}
			return sidecar.Run(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Config, "config", "", "sidecar config file (from 'egret render sidecar-config'); omit with --control-plane to stream it")
	fl.StringVar(&o.Listen, "listen", "", "proxy address (default: the Workload's sidecar.listen, else 127.0.0.1:15001)")
	fl.BoolVar(&o.Transparent, "transparent", false, "redirect this network namespace's outbound TCP to the sidecar with nftables (Linux, root)")
	fl.StringVar(&o.NetNS, "netns", "", "with --transparent: install the rules and listen in this network namespace (e.g. /var/run/netns/NAME); the sidecar's own connections leave from its own namespace")
	fl.IntVar(&o.BypassMark, "bypass-mark", int(intercept.DefaultBypassMark), "socket mark of the sidecar's own connections, exempt from the redirect")
	fl.IntVar(&o.Limits.Max, "max-connections", proxyrun.DefaultSidecarMaxConns, "connections the sidecar's listener holds at once; more wait in the kernel's backlog (0 = no limit)")
	fl.StringVar(&o.Admin, "admin", "", "admin address (/stats/prometheus, /config_dump, /healthz/ready), e.g. 127.0.0.1:15000; empty to disable")
	fl.DurationVar(&o.ConnectTimeout, "gateway-connect-timeout", sidecar.DefaultConnectTimeout, "how long connecting to a gateway (TCP and TLS) may take before the call goes to another gateway, or gets 503 UF when there is none; a gateway failing twice in a row is ejected for a growing back-off")
	fl.StringVar(&o.HTTP2Client, "http2-client", sidecar.HTTP2ClientEgret, "HTTP/2 client for the mTLS hop to gateways: egret (its own: a request's headers and small body in one write from the caller's goroutine; the default, as it passes the same tests with fewer allocations and less CPU per request, see docs/benchmarks.md) or x/net (golang.org/x/net/http2's Transport, for comparison)")
	p = bindProxyFlags(cmd, &o.Identity, &o.AccessLog, &o.Pprof)
	return cmd
}
