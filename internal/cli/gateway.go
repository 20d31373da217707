package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/identity"
	"egret.dev/egret/internal/ownlisteners"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/proxymetrics"
	"egret.dev/egret/internal/resolve"
	"egret.dev/egret/internal/xds"
)

// gatewayFlags are the flags of `egret gateway`.
type gatewayFlags struct {
	config                   string
	address                  string
	ports                    []string
	id                       identityFlags
	admin, ready             string
	accessLog, accessLogFile string
	dnsServer                string
	upstreamCA               string
	overrides                []string
	drain, upstreamTimeout   time.Duration
	maxInFlight              int
	limits                   connLimits
	dp                       dataPlaneFlags
	// bound, when set, is called once the listeners are open (egret up prints its banner after that).
	bound func()
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
	fl.StringVar(&f.config, "config", "", "gateway config file (from 'egret render gateway-config'); omit with --control-plane to stream it")
	fl.StringVar(&f.address, "address", "127.0.0.1", "IP address the listeners bind")
	fl.StringArrayVar(&f.ports, "port", nil, "bind a listener's target port elsewhere, TARGET=PORT (repeatable; 0 = any free port)")
	f.id.register(cmd)
	fl.StringVar(&f.admin, "admin", "127.0.0.1:15000", "admin address (metrics, config dump, readiness); empty to disable")
	fl.StringVar(&f.ready, "ready", "127.0.0.1:15021", "readiness address (/healthz/ready); empty to disable")
	fl.StringVar(&f.accessLog, "access-log-format", "", "JSON or TEXT (default: the mesh's accessLogEncoding, else JSON)")
	fl.StringVar(&f.accessLogFile, "access-log", "-", "access log file (- for standard output, off for none)")
	fl.StringVar(&f.dnsServer, "dns-server", "", "DNS server (host:port) for external hosts; default: the system resolver")
	fl.StringVar(&f.upstreamCA, "upstream-ca", "", "verify external hosts whose ExternalService names no caCertificates against this CA bundle instead of the system roots")
	fl.StringArrayVar(&f.overrides, "resolve", nil, "send HOST:PORT to ADDR instead of resolving it, HOST:PORT=ADDR (repeatable; like curl --connect-to)")
	fl.DurationVar(&f.drain, "drain-timeout", 20*time.Second, "how long shutdown waits for requests in flight")
	fl.DurationVar(&f.upstreamTimeout, "upstream-timeout", 30*time.Second, "time limit for an upstream response's headers (504 past it)")
	fl.IntVar(&f.maxInFlight, "max-in-flight", 10000, "requests and tunnels served at once; more get 503 with Retry-After")
	addGatewayLimitFlags(fl, &f.limits)
	f.dp.register(fl)

	return cmd
}

func runGateway(ctx context.Context, s streams, f gatewayFlags) error {
	base := slog.New(slog.NewJSONHandler(s.err, nil))
	log := base.With("component", "gateway")
	ps, err := startProxy(ctx, xds.KindGateway, f.config, f.id, base, log, func(path string) (xds.Message, error) {
		g, err := proxyconfig.LoadGateway(path)
		if err != nil {
			return xds.Message{}, err
		}
		return xds.Message{Kind: xds.KindGateway, Version: g.Version, Gateway: g}, nil
	})
	if err != nil {
		return err
	}
	defer ps.closeSrc()
	src, cfg := ps.src, ps.first.Gateway
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
	access, closeLog, err := f.dp.openAccessLog(s, log, f.accessLogFile, f.accessLog, cfg.Plan.AccessLogEncoding)
	if err != nil {
		return err
	}
	defer closeLog()
	res := resolve.New(resolve.Options{Server: f.dnsServer})
	metrics := proxymetrics.New("gateway")
	metrics.Certificate(func() *x509.Certificate {
		if svid, err := src.GetX509SVID(); err == nil {
			return svid.Certificates[0]
		}
		return nil
	})
	gw, err := gateway.New(gateway.Params{
		Address:         f.address,
		PortOverrides:   ports,
		TLS:             identity.ServerTLSConfig(src, tlsconfig.AuthorizeAny(), nil),
		PeerRevoked:     identity.PeerRevoked(src),
		Upstream:        gateway.NewUpstream(gateway.UpstreamParams{Resolver: res, Overrides: overrides, ExtraRootsFile: f.upstreamCA}),
		Log:             log,
		Access:          access,
		Metrics:         metrics,
		DrainTimeout:    f.drain,
		UpstreamTimeout: f.upstreamTimeout,
		MaxInFlight:     f.maxInFlight,
		Listen:          f.limits.listen(log),
	}, cfg)
	if err != nil {
		return withCode(ExitError, err)
	}
	if err := gw.Start(); err != nil {
		return withCode(ExitError, fmt.Errorf("gateway listener: %w", err))
	}
	if f.bound != nil {
		f.bound()
	}
	ps.onUpdate(xds.KindGateway, func(m xds.Message) error { return gw.Update(m.Gateway) })
	log.Info("gateway started", "gateway", cfg.Gateway.ID, "identity", cfg.Gateway.Identity.String(), "version", cfg.Version)
	for _, l := range cfg.Gateway.Listeners {
		log.Info("listener", "port", l.Port, "target_port", l.TargetPort, "address", gw.Addr(l.TargetPort), "tls", l.TLSMode)
	}
	for _, sv := range cfg.Plan.Services {
		for _, p := range sv.Ports {
			if p.TLS != nil && p.TLS.InsecureSkipVerify {
				log.Warn("TLS origination does not verify the external host's certificate (insecureSkipVerify)", "service", sv.ID, "port", p.Number)
			}
		}
	}
	servers := serveAdmin(log, map[string]http.Handler{f.admin: f.dp.admin(gw.AdminHandler()), f.ready: gw.ReadyHandler()})
	var died error
	select {
	case <-ctx.Done():
	case died = <-gw.Failed():
		// A gateway missing a listener must not keep running (and reporting ready) as if it served.
		log.Error("a listener died; stopping", "err", died)
	}
	log.Info("draining", "timeout", f.drain.String())
	err = gw.Shutdown(context.Background())
	for _, srv := range servers {
		_ = srv.Close()
	}
	if died != nil {
		return withCode(ExitError, died)
	}
	if err != nil {
		return withCode(ExitError, fmt.Errorf("drain: %w", err))
	}
	log.Info("stopped")
	return nil
}

// serveAdmin starts an HTTP server for each non-empty address.
func serveAdmin(log *slog.Logger, handlers map[string]http.Handler) []*http.Server {
	var out []*http.Server
	for addr, h := range handlers {
		if addr == "" {
			continue
		}
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
		out = append(out, srv)
		go func() {
			ln, err := net.Listen("tcp", addr)
			if err == nil {
				err = srv.Serve(ownlisteners.Default.Track(ln, "admin"))
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("admin server", "address", addr, "err", err)
			}
		}()
	}
	return out
}
