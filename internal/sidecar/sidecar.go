// Package sidecar is the workload's only way out: it knows the registry, blocks what the outbound
// policy blocks, and carries everything else to the right egress gateway over mutual TLS.
package sidecar

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/failover"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/ownlisteners"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/proxymetrics"
)

// Params configure a sidecar.
type Params struct {
	// ClientTLS returns the mTLS client config for a gateway: it presents the workload's newest SVID and
	// accepts the gateway only if it proves the given SPIFFE ID (identity.ClientTLSConfig builds one).
	ClientTLS func(gateway ir.SpiffeID) *tls.Config
	// Direct dials hosts the sidecar reaches itself (ALLOW_ANY passthrough, services without egress
	// routes); in transparent mode it must carry the bypass mark so it is not redirected to itself.
	Direct  *net.Dialer
	Log     *slog.Logger
	Access  *accesslog.Logger
	Metrics *proxymetrics.Metrics
	Timeout time.Duration // dialing a host the sidecar reaches directly; default 10 s
	// ConnectTimeout bounds connecting to a gateway, TCP and TLS handshake together, and answering a
	// ping on a pooled connection to one; default DefaultConnectTimeout. A gateway that does not make
	// it is failed over (and, failing again, ejected); with no other gateway the call gets 503 UF.
	ConnectTimeout time.Duration
	// HTTP2Client is the HTTP/2 client for gateways: HTTP2ClientEgret ("" is it) or HTTP2ClientXNet.
	HTTP2Client string
	// Own is the registry of egret's listeners, which the direct path never dials; nil is ownlisteners.Default.
	Own *ownlisteners.Registry
}

// DefaultConnectTimeout is how long a sidecar waits to connect to a gateway: gateways are near (the
// same cluster, or a peered one), so a connection that takes longer is a gateway that is gone.
const DefaultConnectTimeout = 2 * time.Second

// Sidecar routes one workload's outbound calls.
type Sidecar struct {
	p   Params
	cfg atomic.Pointer[state]

	mu       sync.Mutex
	gateways map[string]*gatewayConn // by address
	next     atomic.Uint64           // round-robin among equally preferred gateways
	rotor    failover.Rotor          // turns among a direct call's ExternalEndpoints
	direct   *http.Transport
	// outbound is Direct refusing egret's own listeners: every call the sidecar makes itself uses it
	// (gateways are dialled with Direct, since they are egret's listeners).
	outbound *net.Dialer
	// originators are the transports of direct calls whose service originates TLS, by service and port.
	originators map[string]*http.Transport
	proxyOnce   sync.Once
	rp          *httputil.ReverseProxy
	servers     []*http.Server
	closers     []func() error
	closing     atomic.Bool // Close was called: listeners that stop now stop on purpose
	dead        atomic.Bool // a listener stopped on its own
}

// state is one applied config with its compiled plan.
type state struct {
	cfg      *proxyconfig.Sidecar
	plan     *ir.Plan
	identity string // cfg.Workload.Identity's text, for every log line
}

// New returns a sidecar for cfg; Serve or ServeTransparent starts it.
func New(p Params, cfg *proxyconfig.Sidecar) (*Sidecar, error) {
	if p.ClientTLS == nil {
		return nil, errors.New("sidecar: no client TLS: the sidecar needs the workload's SVID to reach gateways")
	}
	if p.Direct == nil {
		p.Direct = &net.Dialer{}
	}
	if p.Own == nil {
		p.Own = ownlisteners.Default
	}
	switch p.HTTP2Client {
	case "":
		p.HTTP2Client = HTTP2ClientEgret
	case HTTP2ClientEgret, HTTP2ClientXNet:
	default:
		return nil, fmt.Errorf("sidecar: HTTP/2 client %q: want %q or %q", p.HTTP2Client, HTTP2ClientEgret, HTTP2ClientXNet)
	}
	if p.Timeout == 0 {
		p.Timeout = 10 * time.Second
	}
	if p.ConnectTimeout <= 0 {
		p.ConnectTimeout = DefaultConnectTimeout
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Metrics == nil {
		p.Metrics = proxymetrics.New("sidecar")
	}
	s := &Sidecar{p: p, gateways: map[string]*gatewayConn{}, outbound: refusingOwn(p.Direct, p.Own)}
	s.apply(cfg)
	return s, nil
}

func (s *Sidecar) apply(cfg *proxyconfig.Sidecar) {
	plan := cfg.Plan
	s.cfg.Store(&state{cfg: cfg, plan: (&plan).Compile(), identity: cfg.Workload.Identity.String()})
	s.p.Metrics.ConfigVersion(cfg.Version)
}

// Update swaps in a new config; calls in flight finish on the old one.
func (s *Sidecar) Update(cfg *proxyconfig.Sidecar) {
	s.apply(cfg)
	s.p.Log.Info("config applied", "version", cfg.Version, "routes", len(cfg.Plan.Routes), "services", len(cfg.Plan.Services))
}

// Version is the applied config's version.
func (s *Sidecar) Version() string { return s.cfg.Load().cfg.Version }

// decide asks the shared decision for a call from this workload.
func (st *state) decide(host string, port uint32, r *http.Request, opaque bool) ir.Decision {
	req := ir.Request{
		Source:     st.cfg.Workload.Identity,
		SourceText: st.identity,
		Cluster:    st.cfg.Workload.Cluster,
		Host:       host,
		Port:       port,
		Opaque:     opaque,
		Pick:       rand.Uint32(), // picks among a mesh route's weighted destinations
	}
	if r != nil {
		req.Method, req.Path, req.Headers = r.Method, r.URL.Path, r.Header.Values
	}
	return st.plan.Decide(req)
}

// Close stops every listener and closes gateway connections.
func (s *Sidecar) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, srv.Shutdown(ctx))
		cancel()
	}
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	for _, g := range s.gateways {
		g.close()
	}
	return errors.Join(errs...)
}

// AdminHandler serves /stats/prometheus, /healthz/ready and /config_dump.
func (s *Sidecar) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /stats/prometheus", s.p.Metrics.Handler())
	mux.Handle("GET /healthz/ready", s.ReadyHandler())
	mux.HandleFunc("GET /config_dump", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.cfg.Load().cfg)
	})
	return mux
}

// Ready reports whether the sidecar serves: not closed, and none of its listeners died.
func (s *Sidecar) Ready() bool { return !s.closing.Load() && !s.dead.Load() }

// ReadyHandler answers 200 while the sidecar serves and 503 once it closes or a listener dies.
func (s *Sidecar) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
}

// listenerDied is how Serve and ServeTransparent end: nil when Close stopped them, else the listener
// died on its own, which makes the sidecar not-ready and is returned so its owner exits non-zero.
func (s *Sidecar) listenerDied(ln net.Listener, err error) error {
	if s.closing.Load() || err == nil || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	s.dead.Store(true)
	err = fmt.Errorf("sidecar: listener %s stopped: %w", ln.Addr(), err)
	s.p.Log.Error("listener stopped", "err", err)
	return err
}
