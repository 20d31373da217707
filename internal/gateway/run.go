package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"egret.dev/egret/internal/identity"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/proxymetrics"
	"egret.dev/egret/internal/proxyrun"
	"egret.dev/egret/internal/resolve"
	"egret.dev/egret/internal/xds"
)

// Options configure a gateway process (what `egret gateway` and `egret up` run).
type Options struct {
	// Config is a gateway config file (from `egret render gateway-config`); "" streams it from
	// Identity.ControlPlane.
	Config   string
	Identity proxyrun.Identity
	// Address and PortOverrides: see Params.
	Address       string
	PortOverrides map[uint32]uint32
	// Admin serves metrics, the config dump and readiness; Ready serves /healthz/ready; "" = none.
	Admin, Ready string
	// Pprof adds /debug/pprof/ to the admin listener.
	Pprof     bool
	AccessLog proxyrun.AccessLog
	// DNSServer (host:port) resolves external hosts; "" is the system resolver.
	DNSServer string
	// UpstreamCA verifies external hosts whose ExternalService names no caCertificates, instead of
	// the system roots.
	UpstreamCA string
	// Resolve sends HOST:PORT to ADDR instead of resolving it.
	Resolve                       map[string]string
	DrainTimeout, UpstreamTimeout time.Duration
	MaxInFlight                   int
	Limits                        proxyrun.ConnLimits
	// HTTP2Server is the mesh listeners' HTTP/2 engine: see Params.HTTP2Server.
	HTTP2Server string
	Log         *slog.Logger
	// Bound, when set, is called once the listeners are open.
	Bound func()
}

// Run runs a gateway until ctx ends (then drains) or a listener dies: it obtains the identity
// (enrolling and renewing with the control plane when asked), reads or streams the config, opens the
// listeners and the admin ports, and applies every later config.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	log := o.Log.With("component", "gateway")
	ps, err := proxyrun.Begin(ctx, proxyrun.StartParams{Kind: xds.KindGateway, Config: o.Config, Identity: o.Identity, Log: o.Log, Load: loadConfig})
	if err != nil {
		return err
	}
	defer ps.Close()
	cfg := ps.First.Gateway
	access, closeLog, err := o.AccessLog.Open(log, cfg.Plan.AccessLogEncoding)
	if err != nil {
		return err
	}
	defer closeLog()
	metrics := proxymetrics.New("gateway")
	metrics.Certificate(ps.Certificate)
	gw, err := New(Params{
		Address:         o.Address,
		PortOverrides:   o.PortOverrides,
		TLS:             identity.ServerTLSConfig(ps.Source, tlsconfig.AuthorizeAny(), nil),
		PeerRevoked:     identity.PeerRevoked(ps.Source),
		Upstream:        NewUpstream(UpstreamParams{Resolver: resolve.New(resolve.Options{Server: o.DNSServer}), Overrides: o.Resolve, ExtraRootsFile: o.UpstreamCA}),
		Log:             log,
		Access:          access,
		Metrics:         metrics,
		DrainTimeout:    o.DrainTimeout,
		UpstreamTimeout: o.UpstreamTimeout,
		MaxInFlight:     o.MaxInFlight,
		Listen:          o.Limits.Listen(log),
		HTTP2Server:     o.HTTP2Server,
	}, cfg)
	if err != nil {
		return err
	}
	if err := gw.Start(); err != nil {
		return fmt.Errorf("gateway listener: %w", err)
	}
	if o.Bound != nil {
		o.Bound()
	}
	ps.OnUpdate(xds.KindGateway, func(m xds.Message) error { return gw.Update(m.Gateway) })
	logStarted(log, gw, cfg)
	admin := proxyrun.ServeAdmin(log, map[string]http.Handler{o.Admin: proxyrun.WithPprof(gw.AdminHandler(), o.Pprof), o.Ready: gw.ReadyHandler()})
	return drain(ctx, log, gw, admin, o.DrainTimeout)
}

func loadConfig(path string) (xds.Message, error) {
	g, err := proxyconfig.LoadGateway(path)
	if err != nil {
		return xds.Message{}, err
	}
	return xds.Message{Kind: xds.KindGateway, Version: g.Version, Gateway: g}, nil
}

func logStarted(log *slog.Logger, gw *Gateway, cfg *proxyconfig.Gateway) {
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
}

// drain waits for ctx to end or a listener to die, then drains the gateway and closes the admin ports.
func drain(ctx context.Context, log *slog.Logger, gw *Gateway, admin proxyrun.Admin, timeout time.Duration) error {
	var died error
	select {
	case <-ctx.Done():
	case died = <-gw.Failed():
		// A gateway missing a listener must not keep running (and reporting ready) as if it served.
		log.Error("a listener died; stopping", "err", died)
	}
	log.Info("draining", "timeout", timeout.String())
	err := gw.Shutdown(context.Background())
	admin.Close()
	if died != nil {
		return died
	}
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	log.Info("stopped")
	return nil
}
