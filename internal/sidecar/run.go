package sidecar

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"egret.dev/egret/internal/identity"
	"egret.dev/egret/internal/intercept"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/lockdown"
	"egret.dev/egret/internal/ownlisteners"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/proxymetrics"
	"egret.dev/egret/internal/proxyrun"
	"egret.dev/egret/internal/xds"
)

// Options configure a sidecar process (what `egret sidecar` and `egret up` run).
type Options struct {
	// Config is a sidecar config file (from `egret render sidecar-config`); "" streams it from
	// Identity.ControlPlane.
	Config   string
	Identity proxyrun.Identity
	// Listen is the proxy address; "" is the Workload's sidecar.listen, else 127.0.0.1:15001.
	Listen string
	// Transparent redirects the network namespace's outbound TCP to the sidecar with nftables (Linux,
	// root); NetNS, with it, is the namespace the rules and listeners live in ("" = this one).
	Transparent bool
	NetNS       string
	// BypassMark is the socket mark of the sidecar's own connections, exempt from the redirect.
	BypassMark int
	// Admin serves /stats/prometheus, /config_dump and /healthz/ready; "" = none.
	Admin     string
	Pprof     bool
	AccessLog proxyrun.AccessLog
	// ConnectTimeout bounds connecting to a gateway (TCP and TLS); 0 is DefaultConnectTimeout.
	ConnectTimeout time.Duration
	Limits         proxyrun.ConnLimits
	Log            *slog.Logger
	// Bound, when set, is called once the listeners are open.
	Bound func()

	// HTTP2Client is the HTTP/2 client for gateways: "egret" ("" is it) or "x/net".
	HTTP2Client string
}

// Run runs a sidecar until ctx ends or a listener fails: it obtains the identity (enrolling and
// renewing with the control plane when asked), reads or streams the config, installs the redirect in
// transparent mode (removed on return), opens the listeners and the admin port, and applies every
// later config.
func Run(ctx context.Context, o Options) error {
	if o.NetNS != "" && !o.Transparent {
		return proxyrun.UsageError{Err: errors.New("--netns needs --transparent: only the redirect and its listeners live in another namespace")}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	log := o.Log.With("component", "sidecar")
	ps, err := proxyrun.Begin(ctx, proxyrun.StartParams{Kind: xds.KindSidecar, Config: o.Config, Identity: o.Identity, Log: o.Log, Load: loadConfig})
	if err != nil {
		return err
	}
	defer ps.Close()
	cfg := ps.First.Sidecar
	log = log.With("workload", cfg.Workload.Namespace+"/"+cfg.Workload.Name)
	if svid, err := ps.Source.GetX509SVID(); err == nil && svid.ID.String() != cfg.Workload.Identity.String() {
		return fmt.Errorf("the SVID is %s but the config is for %s", svid.ID, cfg.Workload.Identity)
	}
	access, closeLog, err := o.AccessLog.Open(log, cfg.Plan.AccessLogEncoding)
	if err != nil {
		return err
	}
	defer closeLog()
	direct := &net.Dialer{}
	if o.Transparent && o.NetNS == "" {
		direct = intercept.BypassDialer(o.BypassMark)
	}
	metrics := proxymetrics.New("sidecar")
	metrics.Certificate(ps.Certificate)
	sc, err := New(Params{
		ClientTLS:      gatewayTLS(ps.Source),
		Direct:         direct,
		Log:            log,
		Access:         access,
		Metrics:        metrics,
		ConnectTimeout: o.ConnectTimeout,
		HTTP2Client:    o.HTTP2Client,
	}, cfg)
	if err != nil {
		return err
	}
	ps.OnUpdate(xds.KindSidecar, func(m xds.Message) error { sc.Update(m.Sidecar); return nil })
	errc := make(chan error, 2)
	if o.Transparent {
		remove, err := serveTransparent(sc, o, cfg, log, errc)
		if err != nil {
			return err
		}
		defer remove()
	} else if err := serveExplicit(sc, o, cfg, log, errc); err != nil {
		return err
	}
	if o.Bound != nil {
		o.Bound()
	}
	admin := proxyrun.ServeAdmin(log, map[string]http.Handler{o.Admin: proxyrun.WithPprof(sc.AdminHandler(), o.Pprof)})
	defer admin.Close()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			sc.Close()
			return err
		}
	}
	log.Info("stopping")
	return sc.Close()
}

func loadConfig(path string) (xds.Message, error) {
	c, err := proxyconfig.LoadSidecar(path)
	if err != nil {
		return xds.Message{}, err
	}
	return xds.Message{Kind: xds.KindSidecar, Version: c.Version, Sidecar: c}, nil
}

// gatewayTLS is the client TLS a sidecar dials a gateway with: its own SVID, and the gateway's SPIFFE
// ID verified.
func gatewayTLS(src identity.Source) func(ir.SpiffeID) *tls.Config {
	return func(gw ir.SpiffeID) *tls.Config {
		id, err := spiffeid.FromString(gw.String())
		authz := tlsconfig.AuthorizeID(id)
		if err != nil {
			authz = func(spiffeid.ID, [][]*x509.Certificate) error { return err }
		}
		return identity.ClientTLSConfig(src, authz, nil)
	}
}

func listenAddress(o Options, cfg *proxyconfig.Sidecar) string {
	if o.Listen != "" {
		return o.Listen
	}
	if cfg.Workload.Sidecar != nil && cfg.Workload.Sidecar.Listen != "" {
		return cfg.Workload.Sidecar.Listen
	}
	return "127.0.0.1:15001"
}

// serveExplicit serves the HTTP proxy on the listen address; Serve's end goes to errc.
func serveExplicit(sc *Sidecar, o Options, cfg *proxyconfig.Sidecar, log *slog.Logger, errc chan<- error) error {
	ln, err := net.Listen("tcp", listenAddress(o, cfg))
	if err != nil {
		return fmt.Errorf("sidecar listener: %w", err)
	}
	ln = ownlisteners.Default.Track(ln, "sidecar")
	ln = o.Limits.Wrap(ln, log)
	go func() { errc <- sc.Serve(ln) }()
	log.Info("sidecar started", "mode", "explicit", "listen", ln.Addr().String(), "identity", cfg.Workload.Identity.String(), "version", cfg.Version,
		"hint", "HTTP_PROXY=http://"+ln.Addr().String())
	return nil
}

// serveTransparent installs the nftables redirect and serves the redirected connections; remove takes
// the rules out again.
func serveTransparent(sc *Sidecar, o Options, cfg *proxyconfig.Sidecar, log *slog.Logger, errc chan<- error) (remove func(), err error) {
	if err := intercept.Supported(); err != nil {
		return nil, err
	}
	_, portStr, _ := net.SplitHostPort(listenAddress(o, cfg))
	port, _ := strconv.Atoi(portStr)
	rules, err := intercept.Install(intercept.Params{ProxyPort: uint16(port), BypassMark: uint32(o.BypassMark), ExcludeCIDRs: gatewayPrefixes(cfg), NetNS: o.NetNS})
	if err != nil {
		return nil, err
	}
	remove = func() {
		if err := rules.Remove(); err != nil {
			log.Error("removing nftables rules", "err", err)
		} else {
			log.Info("nftables rules removed")
		}
	}
	// The redirect lands on 127.0.0.1 for IPv4 and ::1 for IPv6.
	for _, addr := range []string{net.JoinHostPort("127.0.0.1", portStr), net.JoinHostPort("::1", portStr)} {
		ln, err := listenIn(o.NetNS, addr)
		if err != nil {
			if addr[0] == '[' || addr[0] == ':' {
				log.Warn("no IPv6 loopback; IPv6 is not intercepted", "err", err)
				continue
			}
			remove()
			return nil, err
		}
		ln = o.Limits.Wrap(ln, log)
		go func() { errc <- sc.ServeTransparent(ln, intercept.OriginalDst) }()
	}
	log.Info("sidecar started", "mode", "transparent", "port", port, "identity", cfg.Workload.Identity.String(), "version", cfg.Version)
	return remove, nil
}

// listenIn opens a TCP listener in the network namespace at netns ("" = this process's own).
func listenIn(netns, addr string) (net.Listener, error) {
	if netns == "" {
		return net.Listen("tcp", addr)
	}
	return lockdown.Listen(netns, "tcp", addr)
}

// gatewayPrefixes are the gateway addresses the sidecar dials, exempt from the redirect (they are the
// sidecar's own connections, which carry the bypass mark anyway; this also exempts other tools that
// talk to the gateways, such as health checks).
func gatewayPrefixes(cfg *proxyconfig.Sidecar) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range cfg.GatewayAddresses {
		host := a
		if h, _, err := net.SplitHostPort(a); err == nil {
			host = h
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return out
}
