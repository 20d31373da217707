// Package gateway is egret's egress gateway: mutual TLS in, the shared policy decision, TLS origination
// out, and one access log line per request or connection.
package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/h2limit"
	"egret.dev/egret/internal/h2srv"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/ownlisteners"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/proxymetrics"
)

// Params configure a gateway. Zero durations and sizes take the defaults below.
type Params struct {
	// Address is the IP every listener binds to (each on its listener's target port).
	Address string
	// PortOverrides maps a listener target port to the port actually bound (0 = any free port), for tests
	// and for running several gateways on one host.
	PortOverrides map[uint32]uint32
	// TLS is the server configuration for mesh mTLS: it must present the gateway's SVID and require and
	// verify client certificates against the mesh's trust bundle (identity.Source builds one).
	TLS *tls.Config
	// Upstream dials and verifies external hosts.
	Upstream *Upstream
	Log      *slog.Logger
	Access   *accesslog.Logger
	Metrics  *proxymetrics.Metrics

	MaxHeaderBytes       int
	ReadHeaderTimeout    time.Duration
	IdleTimeout          time.Duration
	UpstreamTimeout      time.Duration
	MaxConcurrentStreams uint32
	// HTTP2 bounds what one client connection may make the gateway do (frame size, flow-control
	// windows, header table, pings) and its stream reset budget (rapid reset); zero fields take
	// h2limit's defaults, and MaxConcurrentStreams above fills HTTP2.MaxConcurrentStreams.
	HTTP2 h2limit.Limits
	// HTTP2Server is the HTTP/2 engine of the mesh listeners: HTTP2ServerEgret (h2srv, the default)
	// or HTTP2ServerXNet (golang.org/x/net/http2's server), kept for comparison and as a fallback.
	HTTP2Server string
	// PeerRevoked, when set, is asked on every request and tunnel with the client's verified
	// certificate: a connection opened before its peer was revoked gets 403 from the next bundle
	// update on (new handshakes are refused by the TLS config itself).
	PeerRevoked func(*x509.Certificate) bool
	// MaxInFlight bounds requests and tunnels served at once; past it the answer is 503 with Retry-After.
	MaxInFlight int
	// DrainTimeout bounds how long Shutdown waits for requests in flight.
	DrainTimeout time.Duration
	// Listen opens a listener; nil is net.Listen. Tests inject one to kill a listener under the gateway.
	Listen func(network, address string) (net.Listener, error)
}

func (p *Params) defaults() {
	if p.Address == "" {
		p.Address = "127.0.0.1"
	}
	if p.MaxHeaderBytes == 0 {
		p.MaxHeaderBytes = 64 << 10
	}
	if p.ReadHeaderTimeout == 0 {
		p.ReadHeaderTimeout = 10 * time.Second
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = 5 * time.Minute
	}
	if p.UpstreamTimeout == 0 {
		p.UpstreamTimeout = 30 * time.Second
	}
	if p.MaxConcurrentStreams == 0 {
		p.MaxConcurrentStreams = 1000
	}
	if p.MaxInFlight == 0 {
		p.MaxInFlight = 10000
	}
	if p.DrainTimeout == 0 {
		p.DrainTimeout = 20 * time.Second
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Metrics == nil {
		p.Metrics = proxymetrics.New("gateway")
	}
	if p.Listen == nil {
		p.Listen = net.Listen
	}
}

// Gateway serves the listeners of one gateway config and swaps configs atomically.
type Gateway struct {
	p        Params
	cfg      atomic.Pointer[state]
	inFlight chan struct{}

	mu        sync.Mutex
	servers   map[uint32]*listener // by target port
	proxyOnce sync.Once
	rp        *httputil.ReverseProxy

	// tunnels are the open CONNECT streams: HTTP/1.1 ones are hijacked from their server, so Shutdown
	// waits for them (and closes them at the drain deadline) itself.
	tunnelMu   sync.Mutex
	openTunnel map[net.Conn]struct{}
	ready      atomic.Bool
	dead       atomic.Bool // a listener stopped on its own
	closed     bool
	serveErrs  chan error
	// revokedConns remembers the connections whose revoked peer was logged already.
	revokedConns sync.Map
}

// state is one applied config: requests load it once and finish on it even if a new one arrives.
type state struct {
	cfg  *proxyconfig.Gateway
	plan *ir.Plan
	// listeners by target port.
	listeners map[uint32]ir.Listener
	services  map[string]*ir.ExternalService
	// decisions remembers this config's decisions (never one that read a header or drew a weighted
	// route), and goes with it.
	decisions *ir.DecisionCache
}

func (s *state) service(id string) *ir.ExternalService { return s.services[id] }

type listener struct {
	ln  net.Listener
	srv *http.Server
}

// New returns a gateway that serves cfg once Start is called.
func New(p Params, cfg *proxyconfig.Gateway) (*Gateway, error) {
	p.defaults()
	if p.TLS == nil {
		return nil, errors.New("gateway: no TLS configuration: the gateway needs its SVID and the mesh trust bundle")
	}
	if p.Upstream == nil {
		return nil, errors.New("gateway: no upstream dialer")
	}
	if p.TLS.GetConfigForClient == nil && p.TLS.ClientAuth != tls.RequireAndVerifyClientCert {
		return nil, errors.New("gateway: the TLS configuration must require and verify client certificates (ISTIO_MUTUAL)")
	}
	// ALPN: HTTP/2 for sidecars, HTTP/1.1 for everything else. Set on the caller's config because a
	// GetConfigForClient callback (identity.ServerTLSConfig) reads it from there.
	if len(p.TLS.NextProtos) == 0 {
		p.TLS.NextProtos = []string{"h2", "http/1.1"}
	}
	if p.TLS.MinVersion < tls.VersionTLS12 {
		p.TLS.MinVersion = tls.VersionTLS12
	}
	g := &Gateway{p: p, inFlight: make(chan struct{}, p.MaxInFlight), servers: map[uint32]*listener{}, serveErrs: make(chan error, 16)}
	g.cfg.Store(newState(cfg))
	return g, nil
}

func newState(cfg *proxyconfig.Gateway) *state {
	plan := cfg.Plan
	s := &state{cfg: cfg, plan: (&plan).Compile(), listeners: map[uint32]ir.Listener{}, services: map[string]*ir.ExternalService{}}
	for i := range s.plan.Services {
		s.services[s.plan.Services[i].ID] = &s.plan.Services[i]
	}
	for _, l := range cfg.Gateway.Listeners {
		s.listeners[l.TargetPort] = l
	}
	s.decisions = ir.NewDecisionCache(s.plan)
	return s
}

// Start opens every listener of the current config.
func (g *Gateway) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.syncListeners(g.cfg.Load()); err != nil {
		return err
	}
	g.ready.Store(true)
	return nil
}

// Update applies a new config: new requests use it at once, requests in flight finish on the old one;
// listeners that appear are opened and those that disappear are drained.
func (g *Gateway) Update(cfg *proxyconfig.Gateway) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("gateway: shut down")
	}
	s := newState(cfg)
	if err := g.syncListeners(s); err != nil {
		return err
	}
	g.cfg.Store(s)
	g.p.Metrics.ConfigVersion(cfg.Version)
	g.p.Log.Info("config applied", "version", cfg.Version, "listeners", len(s.listeners), "routes", len(cfg.Plan.Routes), "policies", len(cfg.Plan.Policies))
	return nil
}

// Version is the applied config's version.
func (g *Gateway) Version() string { return g.cfg.Load().cfg.Version }

// Config is the applied config.
func (g *Gateway) Config() *proxyconfig.Gateway { return g.cfg.Load().cfg }

// Ready reports whether the gateway serves traffic (started, not draining, and no listener died).
func (g *Gateway) Ready() bool { return g.ready.Load() && !g.dead.Load() }

// Failed delivers the error of a listener that stopped on its own (not by Shutdown or a config that
// removed it). The gateway reports not-ready from then on; its owner should shut it down and exit
// non-zero, since callers of that port get nothing.
func (g *Gateway) Failed() <-chan error { return g.serveErrs }

// fail records a dead listener: not ready, and the error for Failed.
func (g *Gateway) fail(err error) {
	g.dead.Store(true)
	g.p.Log.Error("listener stopped", "err", err)
	select {
	case g.serveErrs <- err:
	default: // the owner already has errors to act on
	}
}

// Addr returns the bound address of the listener for a target port (e.g. 8443), or "".
func (g *Gateway) Addr(targetPort uint32) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if l, ok := g.servers[targetPort]; ok {
		return l.ln.Addr().String()
	}
	return ""
}

// syncListeners opens the listeners s needs and closes the others. Called with g.mu held.
func (g *Gateway) syncListeners(s *state) error {
	for port := range s.listeners {
		if _, ok := g.servers[port]; ok {
			continue
		}
		bind := port
		if o, ok := g.p.PortOverrides[port]; ok {
			bind = o
		}
		ln, err := g.p.Listen("tcp", net.JoinHostPort(g.p.Address, strconv.FormatUint(uint64(bind), 10)))
		if err != nil {
			return fmt.Errorf("gateway: listener %d: %w", port, err)
		}
		ln = ownlisteners.Default.Track(ln, fmt.Sprintf("gateway %d", port))
		srv, err := g.newServer(port)
		if err != nil {
			ln.Close()
			return err
		}
		g.servers[port] = &listener{ln: ln, srv: srv}
		go func() {
			if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.fail(fmt.Errorf("gateway: listener %d stopped: %w", port, err))
			}
		}()
		g.p.Log.Info("listening", "port", port, "address", ln.Addr().String())
	}
	for port, l := range g.servers {
		if _, ok := s.listeners[port]; ok {
			continue
		}
		delete(g.servers, port)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), g.p.DrainTimeout)
			defer cancel()
			_ = l.srv.Shutdown(ctx)
		}()
		g.p.Log.Info("listener removed", "port", port)
	}
	return nil
}

func (g *Gateway) newServer(port uint32) (*http.Server, error) {
	srv := &http.Server{
		Handler: g.refuseRevoked(&handler{g: g, port: port}),
		// Each server gets its own copy: http.Server edits its TLSConfig's NextProtos when it starts.
		TLSConfig:         g.p.TLS.Clone(),
		MaxHeaderBytes:    g.p.MaxHeaderBytes,
		ReadHeaderTimeout: g.p.ReadHeaderTimeout,
		IdleTimeout:       g.p.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(g.p.Log.Handler(), slog.LevelDebug),
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				g.p.Metrics.ConnOpened()
			case http.StateClosed, http.StateHijacked:
				g.p.Metrics.ConnClosed()
			}
		},
	}
	h2 := g.p.HTTP2
	if h2.MaxConcurrentStreams == 0 {
		h2.MaxConcurrentStreams = g.p.MaxConcurrentStreams
	}
	log := g.p.Log.With("listener", port)
	var err error
	switch g.p.HTTP2Server {
	case HTTP2ServerXNet:
		err = h2limit.Configure(srv, h2, log)
	case HTTP2ServerEgret, "":
		_, err = h2srv.Configure(srv, h2, log)
	default:
		err = fmt.Errorf("unknown HTTP/2 server %q (want %q or %q)", g.p.HTTP2Server, HTTP2ServerEgret, HTTP2ServerXNet)
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: listener %d: %w", port, err)
	}
	return srv, nil
}

// The HTTP/2 engines of Params.HTTP2Server.
const (
	HTTP2ServerEgret = "egret"
	HTTP2ServerXNet  = "x/net"
)

// refuseRevoked answers 403 to a request whose verified peer certificate was revoked after the
// connection's handshake, and logs it once per connection.
func (g *Gateway) refuseRevoked(next http.Handler) http.Handler {
	if g.p.PeerRevoked == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			if leaf := r.TLS.VerifiedChains[0][0]; g.p.PeerRevoked(leaf) {
				if _, logged := g.revokedConns.LoadOrStore(r.RemoteAddr+"|"+leaf.SerialNumber.Text(16), struct{}{}); !logged {
					g.p.Log.Warn("request refused: the peer's certificate is revoked", "remote", r.RemoteAddr, "serial", leaf.SerialNumber.Text(16))
				}
				w.Header().Set("Connection", "close")
				http.Error(w, "RBAC: access denied", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Shutdown stops accepting, waits for requests in flight up to the drain timeout (or ctx), then closes.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	g.ready.Store(false)
	servers := g.servers
	g.servers = map[uint32]*listener{}
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, g.p.DrainTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 0, len(servers))
	var emu sync.Mutex
	for _, l := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.srv.Shutdown(ctx); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
				_ = l.srv.Close()
			}
		}()
	}
	wg.Wait()
	// The servers no longer accept, so no tunnel starts now; wait for the open ones.
	for tick := time.NewTicker(20 * time.Millisecond); g.tunnelCount() > 0; {
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		}
		g.tunnelMu.Lock()
		n := len(g.openTunnel)
		for c := range g.openTunnel {
			c.Close()
		}
		g.tunnelMu.Unlock()
		errs = append(errs, fmt.Errorf("gateway: drain deadline: closed %d tunnel(s) still open", n))
		tick.Stop()
		break
	}
	g.p.Upstream.CloseIdle()
	return errors.Join(errs...)
}

func (g *Gateway) tunnelCount() int {
	g.tunnelMu.Lock()
	defer g.tunnelMu.Unlock()
	return len(g.openTunnel)
}

// trackTunnel records an open tunnel until the returned func is called.
func (g *Gateway) trackTunnel(c net.Conn) func() {
	g.tunnelMu.Lock()
	if g.openTunnel == nil {
		g.openTunnel = map[net.Conn]struct{}{}
	}
	g.openTunnel[c] = struct{}{}
	g.tunnelMu.Unlock()
	return func() {
		g.tunnelMu.Lock()
		delete(g.openTunnel, c)
		g.tunnelMu.Unlock()
	}
}
