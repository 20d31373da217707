package cli

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/proxyrun"
)

func newGatewayCmd(s streams) *cobra.Command {
	var o gateway.Options
	var ports, overrides []string
	var p *proxyFlags
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Log, err = p.complete(s); err != nil {
				return err
			}
			if o.HTTP2Server != gateway.HTTP2ServerEgret && o.HTTP2Server != gateway.HTTP2ServerXNet {
				return fmt.Errorf("--http2-server %q: want %s or %s", o.HTTP2Server, gateway.HTTP2ServerEgret, gateway.HTTP2ServerXNet)
			}
			o.PortOverrides = map[uint32]uint32{}
			if _, err := pairs("--port", "TARGET=PORT", ports, func(t, b string) bool {
				tn, err1 := strconv.ParseUint(t, 10, 16)
				bn, err2 := strconv.ParseUint(b, 10, 16)
				o.PortOverrides[uint32(tn)] = uint32(bn)
				return err1 == nil && err2 == nil
			}); err != nil {
				return err
			}
			if o.Resolve, err = pairs("--resolve", "HOST:PORT=ADDR", overrides, func(hp, _ string) bool {
				_, _, err := net.SplitHostPort(hp)
				return err == nil
			}); err != nil {
				return err
			}
			return gateway.Run(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Config, "config", "", "gateway config file (from 'egret render gateway-config'); omit with --control-plane to stream it")
	fl.StringVar(&o.Address, "address", "127.0.0.1", "IP address the listeners bind")
	fl.StringArrayVar(&ports, "port", nil, "bind a listener's target port elsewhere, TARGET=PORT (repeatable; 0 = any free port)")
	p = bindProxyFlags(cmd, &o.Identity, &o.AccessLog, &o.Pprof)
	fl.StringVar(&o.Admin, "admin", "127.0.0.1:15000", "admin address (metrics, config dump, readiness); empty to disable")
	fl.StringVar(&o.Ready, "ready", "127.0.0.1:15021", "readiness address (/healthz/ready); empty to disable")
	fl.StringVar(&o.AccessLog.Format, "access-log-format", "", "JSON or TEXT (default: the mesh's accessLogEncoding, else JSON)")
	fl.StringVar(&o.DNSServer, "dns-server", "", "DNS server (host:port) for external hosts; default: the system resolver")
	fl.StringVar(&o.UpstreamCA, "upstream-ca", "", "verify external hosts whose ExternalService names no caCertificates against this CA bundle instead of the system roots")
	fl.StringArrayVar(&overrides, "resolve", nil, "send HOST:PORT to ADDR instead of resolving it, HOST:PORT=ADDR (repeatable; like curl --connect-to)")
	fl.DurationVar(&o.DrainTimeout, "drain-timeout", 20*time.Second, "how long shutdown waits for requests in flight")
	fl.DurationVar(&o.UpstreamTimeout, "upstream-timeout", 30*time.Second, "time limit for an upstream response's headers (504 past it)")
	fl.IntVar(&o.MaxInFlight, "max-in-flight", 10000, "requests and tunnels served at once; more get 503 with Retry-After")
	fl.IntVar(&o.Limits.Max, "max-connections", proxyrun.DefaultGatewayMaxConns, "connections each listener holds at once; more wait in the kernel's backlog (0 = no limit)")
	fl.StringVar(&o.HTTP2Server, "http2-server", gateway.HTTP2ServerEgret, "HTTP/2 engine of the mesh listeners: egret (its own: one write per answer, one goroutine per idle connection) or x/net (golang.org/x/net/http2's server, for comparison or as a fallback)")
	fl.IntVar(&o.Limits.PerSource, "max-connections-per-source", 0, "connections one source IP may hold on a listener; more are closed (0 = no limit)")
	return cmd
}
