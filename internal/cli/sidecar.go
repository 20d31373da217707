package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"egret.dev/egret/internal/identity"
	"egret.dev/egret/internal/intercept"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/lockdown"
	"egret.dev/egret/internal/ownlisteners"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/proxymetrics"
	"egret.dev/egret/internal/sidecar"
	"egret.dev/egret/internal/xds"
)

type sidecarFlags struct {
	config        string
	listen        string
	transparent   bool
	bypassMark    int
	netns         string
	accessLogFile string
	dp            dataPlaneFlags
	admin         string
	// connectTimeout bounds connecting to a gateway (TCP and TLS); 0 is sidecar.DefaultConnectTimeout.
	connectTimeout time.Duration
	id             identityFlags
	limits         connLimits
	// bound, when set, is called once the listeners are open (egret up prints its banner after that).
	bound func()
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
	fl.StringVar(&f.config, "config", "", "sidecar config file (from 'egret render sidecar-config'); omit with --control-plane to stream it")
	fl.StringVar(&f.listen, "listen", "", "proxy address (default: the Workload's sidecar.listen, else 127.0.0.1:15001)")
	fl.BoolVar(&f.transparent, "transparent", false, "redirect this network namespace's outbound TCP to the sidecar with nftables (Linux, root)")
	fl.StringVar(&f.netns, "netns", "", "with --transparent: install the rules and listen in this network namespace (e.g. /var/run/netns/NAME); the sidecar's own connections leave from its own namespace")
	fl.IntVar(&f.bypassMark, "bypass-mark", int(intercept.DefaultBypassMark), "socket mark of the sidecar's own connections, exempt from the redirect")
	fl.StringVar(&f.accessLogFile, "access-log", "-", "access log file (- for standard output, off for none)")
	f.dp.register(fl)
	addSidecarLimitFlags(fl, &f.limits)
	fl.StringVar(&f.admin, "admin", "", "admin address (/stats/prometheus, /config_dump, /healthz/ready), e.g. 127.0.0.1:15000; empty to disable")
	fl.DurationVar(&f.connectTimeout, "gateway-connect-timeout", sidecar.DefaultConnectTimeout, "how long connecting to a gateway (TCP and TLS) may take before the call goes to another gateway, or gets 503 UF when there is none; a gateway failing twice in a row is ejected for a growing back-off")
	f.id.register(cmd)

	return cmd
}

func runSidecar(ctx context.Context, s streams, f sidecarFlags) error {
	if f.netns != "" && !f.transparent {
		return withCode(ExitUsage, fmt.Errorf("--netns needs --transparent: only the redirect and its listeners live in another namespace"))
	}
	base := slog.New(slog.NewJSONHandler(s.err, nil))
	log := base.With("component", "sidecar")
	ps, err := startProxy(ctx, xds.KindSidecar, f.config, f.id, base, log, func(path string) (xds.Message, error) {
		c, err := proxyconfig.LoadSidecar(path)
		if err != nil {
			return xds.Message{}, err
		}
		return xds.Message{Kind: xds.KindSidecar, Version: c.Version, Sidecar: c}, nil
	})
	if err != nil {
		return err
	}
	defer ps.closeSrc()
	src, cfg := ps.src, ps.first.Sidecar
	log = log.With("workload", cfg.Workload.Namespace+"/"+cfg.Workload.Name)
	if svid, err := src.GetX509SVID(); err == nil && svid.ID.String() != cfg.Workload.Identity.String() {
		return withCode(ExitError, fmt.Errorf("the SVID is %s but the config is for %s", svid.ID, cfg.Workload.Identity))
	}
	access, closeLog, err := f.dp.openAccessLog(s, log, f.accessLogFile, "", cfg.Plan.AccessLogEncoding)
	if err != nil {
		return err
	}
	defer closeLog()
	direct := &net.Dialer{}
	if f.transparent && f.netns == "" {
		direct = intercept.BypassDialer(f.bypassMark)
	}
	metrics := proxymetrics.New("sidecar")
	metrics.Certificate(func() *x509.Certificate {
		if svid, err := src.GetX509SVID(); err == nil {
			return svid.Certificates[0]
		}
		return nil
	})
	sc, err := sidecar.New(sidecar.Params{
		ClientTLS: func(gw ir.SpiffeID) *tls.Config {
			id, err := spiffeid.FromString(gw.String())
			authz := tlsconfig.AuthorizeID(id)
			if err != nil {
				authz = func(spiffeid.ID, [][]*x509.Certificate) error { return err }
			}
			return identity.ClientTLSConfig(src, authz, nil)
		},
		Direct:         direct,
		Log:            log,
		Access:         access,
		Metrics:        metrics,
		ConnectTimeout: f.connectTimeout,
	}, cfg)
	if err != nil {
		return withCode(ExitError, err)
	}
	ps.onUpdate(xds.KindSidecar, func(m xds.Message) error { sc.Update(m.Sidecar); return nil })
	listen := f.listen
	if listen == "" && cfg.Workload.Sidecar != nil {
		listen = cfg.Workload.Sidecar.Listen
	}
	if listen == "" {
		listen = "127.0.0.1:15001"
	}
	errc := make(chan error, 2)
	if f.transparent {
		if err := intercept.Supported(); err != nil {
			return withCode(ExitError, err)
		}
		_, portStr, _ := net.SplitHostPort(listen)
		port, _ := strconv.Atoi(portStr)
		rules, err := intercept.Install(intercept.Params{ProxyPort: uint16(port), BypassMark: uint32(f.bypassMark), ExcludeCIDRs: gatewayPrefixes(cfg), NetNS: f.netns})
		if err != nil {
			return withCode(ExitError, err)
		}
		defer func() {
			if err := rules.Remove(); err != nil {
				log.Error("removing nftables rules", "err", err)
			} else {
				log.Info("nftables rules removed")
			}
		}()
		// The redirect lands on 127.0.0.1 for IPv4 and ::1 for IPv6.
		for _, addr := range []string{net.JoinHostPort("127.0.0.1", portStr), net.JoinHostPort("::1", portStr)} {
			ln, err := listenIn(f.netns, addr)
			if err != nil {
				if addr[0] == '[' || addr[0] == ':' {
					log.Warn("no IPv6 loopback; IPv6 is not intercepted", "err", err)
					continue
				}
				return withCode(ExitError, err)
			}
			ln = f.limits.wrap(ln, log)
			go func() { errc <- sc.ServeTransparent(ln, intercept.OriginalDst) }()
		}
		log.Info("sidecar started", "mode", "transparent", "port", port, "identity", cfg.Workload.Identity.String(), "version", cfg.Version)
	} else {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return withCode(ExitError, fmt.Errorf("sidecar listener: %w", err))
		}
		ln = ownlisteners.Default.Track(ln, "sidecar")
		ln = f.limits.wrap(ln, log)
		go func() { errc <- sc.Serve(ln) }()
		log.Info("sidecar started", "mode", "explicit", "listen", ln.Addr().String(), "identity", cfg.Workload.Identity.String(), "version", cfg.Version,
			"hint", "HTTP_PROXY=http://"+ln.Addr().String())
	}
	if f.bound != nil {
		f.bound()
	}
	admin := serveAdmin(log, map[string]http.Handler{f.admin: f.dp.admin(sc.AdminHandler())})
	defer func() {
		for _, srv := range admin {
			srv.Close()
		}
	}()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			sc.Close()
			return withCode(ExitError, err)
		}
	}
	log.Info("stopping")
	return sc.Close()
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
