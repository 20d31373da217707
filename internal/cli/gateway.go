package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/gateway"
)

// gatewayFlags are the flags of `egret gateway` that are not gateway.Options fields as they are.
type gatewayFlags struct {
	o                        gateway.Options
	ports, overrides         []string
	id                       identityFlags
	accessLog, accessLogFile string
	dp                       dataPlaneFlags
}

func newGatewayCmd(s streams) *cobra.Command {
	var f gatewayFlags
	cmd := &cobra.Command{
		Use:   "gateway --config FILE (--cert SVID.pem --key KEY.pem --bundle BUNDLE.pem | --control-plane ADDR --token T)",
		Short: "Run an egress gateway",
		Long: `gateway runs one egress gateway from a native config (written by 'egret render gateway-config').

It listens on each of its VirtualGateway listeners' target ports (443 → 8443 for the seed's gateway
service) with mutual TLS: only callers holding an SVID of the mesh's trust bundle connect, and the
caller's identity is read from its certificate only. Each request's authority must be an exposed
external service's host and portMatch; the shared decision applies the AccessPolicies (403 "RBAC:
access denied"); allowed requests go to the external host with TLS originated and verified as the
ExternalService says. One access log line per request or tunnel goes to standard output.

Admin: /stats/prometheus, /config_dump and /healthz/ready on --admin; /healthz/ready on --ready.
SIGTERM or Ctrl-C drains: no new connections, requests in flight finish (up to --drain-timeout).`,
		Example: `  egret ca issue --data-dir /var/lib/egret --identity spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway --out gw-certs
  egret render gateway-config -f examples/bookinfo-egress --gateway cluster1/gloo-mesh-gateways/istio-egressgateway --out gw.json
  egret gateway --config gw.json --cert gw-certs/svid.pem --key gw-certs/key.pem --bundle gw-certs/bundle.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runGateway(cmd.Context(), s, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.o.Config, "config", "", "gateway config file (from 'egret render gateway-config'); omit with --control-plane to stream it")
	fl.StringVar(&f.o.Address, "address", "127.0.0.1", "IP address the listeners bind")
	fl.StringArrayVar(&f.ports, "port", nil, "bind a listener's target port elsewhere, TARGET=PORT (repeatable; 0 = any free port)")
	f.id.register(cmd)
	fl.StringVar(&f.o.Admin, "admin", "127.0.0.1:15000", "admin address (metrics, config dump, readiness); empty to disable")
	fl.StringVar(&f.o.Ready, "ready", "127.0.0.1:15021", "readiness address (/healthz/ready); empty to disable")
	fl.StringVar(&f.accessLog, "access-log-format", "", "JSON or TEXT (default: the mesh's accessLogEncoding, else JSON)")
	fl.StringVar(&f.accessLogFile, "access-log", "-", "access log file (- for standard output, off for none)")
	fl.StringVar(&f.o.DNSServer, "dns-server", "", "DNS server (host:port) for external hosts; default: the system resolver")
	fl.StringVar(&f.o.UpstreamCA, "upstream-ca", "", "verify external hosts whose ExternalService names no caCertificates against this CA bundle instead of the system roots")
	fl.StringArrayVar(&f.overrides, "resolve", nil, "send HOST:PORT to ADDR instead of resolving it, HOST:PORT=ADDR (repeatable; like curl --connect-to)")
	fl.DurationVar(&f.o.DrainTimeout, "drain-timeout", 20*time.Second, "how long shutdown waits for requests in flight")
	fl.DurationVar(&f.o.UpstreamTimeout, "upstream-timeout", 30*time.Second, "time limit for an upstream response's headers (504 past it)")
	fl.IntVar(&f.o.MaxInFlight, "max-in-flight", 10000, "requests and tunnels served at once; more get 503 with Retry-After")
	addGatewayLimitFlags(fl, &f.o.Limits)
	f.dp.register(fl)

	return cmd
}

func runGateway(ctx context.Context, s streams, f gatewayFlags) error {
	id, err := f.id.options()
	if err != nil {
		return err
	}
	ports := map[uint32]uint32{}
	for _, p := range f.ports {
		t, b, ok := strings.Cut(p, "=")
		tn, err1 := strconv.ParseUint(t, 10, 16)
		bn, err2 := strconv.ParseUint(b, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return withCode(ExitUsage, fmt.Errorf("--port %q: want TARGET=PORT", p))
		}
		ports[uint32(tn)] = uint32(bn)
	}
	overrides := map[string]string{}
	for _, o := range f.overrides {
		k, v, ok := strings.Cut(o, "=")
		if _, _, err := net.SplitHostPort(k); !ok || err != nil {
			return withCode(ExitUsage, fmt.Errorf("--resolve %q: want HOST:PORT=ADDR", o))
		}
		overrides[k] = v
	}
	o := f.o
	o.Identity, o.PortOverrides, o.Resolve = id, ports, overrides
	o.Pprof, o.AccessLog = f.dp.pprof, f.dp.accessLog(s, f.accessLogFile, f.accessLog)
	o.Log = slog.New(slog.NewJSONHandler(s.err, nil))
	return proxyExit(gateway.Run(ctx, o))
}
