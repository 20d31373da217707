// Package controlplane wires egret into a running control plane: the resource directory is watched,
// every change is validated and translated, and each proxy is streamed its slice of the plan.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/ca/enrollproto"
	"egret.dev/egret/internal/h2limit"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/ownlisteners"
	"egret.dev/egret/internal/source"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
	"egret.dev/egret/internal/xds"
)

// Params configure a control plane.
type Params struct {
	// Source is where resources come from; nil is the directory ConfigDir (a file.Dir).
	Source source.Source
	// ConfigDir is the resource directory (shown in status and logs).
	ConfigDir string
	DataDir   string
	// Listen is the TLS port proxies enroll on and stream configs from (15012).
	Listen string
	// Admin serves /status, /plan and /healthz/ready over plain HTTP; keep it on loopback.
	Admin string
	// TrustDomain names the control plane's own certificate, spiffe://<td>/egret/controlplane.
	TrustDomain string
	// GatewayAddresses tell sidecars where gateways are (see proxyconfig.Sidecar.GatewayAddresses).
	GatewayAddresses map[string]string
	// Poll is how often the directory is checked for changes (default 100 ms).
	Poll time.Duration
	// Debounce is how long the directory must stay unchanged before a change is loaded (default 300 ms),
	// so a file being written in pieces is read once it is whole.
	Debounce time.Duration
	Log      *slog.Logger
}

// ControlPlane serves one mesh.
type ControlPlane struct {
	p   Params
	log *slog.Logger
	ca  *ca.CA
	// delta serves each proxy its resources over delta xDS (gRPC on the TLS port).
	delta *xds.DeltaServer
	// memo lets a reload reuse the translation of the objects that did not change (translate.Memo).
	memo translate.Memo

	mu       sync.RWMutex
	plan     *ir.Plan
	result   *translate.Result
	rejected []string // the problems of the newest change, when it was refused
	applied  time.Time
	stamp    string // the source's stamp at the last load (a stamper's), else ""
	src      source.Source
	loaded   time.Time // when the directory was last read
	loadErr  string    // why the last load failed, or ""
	warnings []string  // of the last load: files skipped, files whose last good contents are used

	tlsLn, adminLn net.Listener
	servers        []*http.Server
	// served receives why a listener stopped serving (Run returns it); closeOnce guards Close.
	served    chan error
	closeOnce sync.Once
}

// committer is a Source that keeps what a load read only once the control plane applies it, so a
// dropped load changes nothing (file.Dir remembers each file's last good contents).
type committer interface{ Commit() }

// stamper is a Source polled for changes: Stamp summarizes the resources without reading them
// (file.Dir's Fingerprint).
type stamper interface{ Stamp() string }

var (
	_ source.Source = (*file.Dir)(nil)
	_ committer     = (*file.Dir)(nil)
	_ stamper       = (*file.Dir)(nil)
)

// New is NewContext without cancellation.
func New(p Params) (*ControlPlane, error) { return NewContext(context.Background(), p) }

// NewContext loads the CA and the resources. An invalid initial configuration is reported, not fatal:
// the control plane serves an empty plan until a valid one is written. When ctx ends during the load,
// NewContext returns its error.
func NewContext(ctx context.Context, p Params) (*ControlPlane, error) {
	if p.Poll == 0 {
		p.Poll = 100 * time.Millisecond
	}
	if p.Debounce == 0 {
		p.Debounce = 300 * time.Millisecond
	}
	if p.TrustDomain == "" {
		p.TrustDomain = "cluster1"
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Source == nil {
		p.Source = file.NewDir(p.ConfigDir, file.Options{})
	}
	cp := &ControlPlane{p: p, log: p.Log.With("component", "controlplane"), plan: (&ir.Plan{}).Compile(),
		src: p.Source, served: make(chan error, 2)}
	// The CA renews only identities the current plan still has (a Workload's or a gateway's).
	c, err := ca.New(ca.Params{DataDir: p.DataDir, Logger: p.Log, IdentityAllowed: cp.identityConfigured})
	if err != nil {
		return nil, err
	}
	cp.ca = c
	cp.delta = xds.NewDeltaServer(cp.log)
	// The first load is applied even if the directory changes while it is read (there is nothing older
	// to keep serving); the watcher then sees the change and loads it again.
	if err := cp.reload(ctx, cp.sourceStamp(), true); err != nil {
		return nil, err
	}
	return cp, nil
}

// CA is the control plane's certificate authority (for join tokens).
func (cp *ControlPlane) CA() *ca.CA { return cp.ca }

// Token creates a join token for a proxy with SPIFFE ID id.
func (cp *ControlPlane) Token(id string, ttl time.Duration) (string, error) {
	sid, err := spiffeid.FromString(id)
	if err != nil {
		return "", err
	}
	tok, err := cp.ca.Tokens().Create(sid, ttl)
	if err != nil {
		return "", err
	}
	return tok.Encode(), nil
}

// SetGatewayAddresses changes where sidecars are told the gateways are, and pushes the change.
func (cp *ControlPlane) SetGatewayAddresses(addrs map[string]string) {
	cp.mu.Lock()
	cp.p.GatewayAddresses = addrs
	cp.mu.Unlock()
	cp.pushDelta()
}

// pushDelta sends the plan's changed resources to the delta xDS proxies.
func (cp *ControlPlane) pushDelta() {
	cp.mu.RLock()
	plan, addrs := cp.plan, cp.p.GatewayAddresses
	cp.mu.RUnlock()
	if err := cp.delta.Update(plan, addrs); err != nil {
		cp.log.Error("delta xDS resources not updated; proxies keep the last ones", "err", err)
	}
}

// Plan is the plan being served.
func (cp *ControlPlane) Plan() *ir.Plan {
	cp.mu.RLock()
	defer cp.mu.RUnlock()
	return cp.plan
}

// identityConfigured reports whether a Workload or a gateway of the plan being served has id.
func (cp *ControlPlane) identityConfigured(id spiffeid.ID) bool {
	plan := cp.Plan()
	for _, w := range plan.Workloads {
		if w.Identity.String() == id.String() {
			return true
		}
	}
	for _, g := range plan.Gateways {
		if g.Identity.String() == id.String() {
			return true
		}
	}
	return false
}

// Start opens the TLS port and the admin port; Run watches the directory until ctx ends.
func (cp *ControlPlane) Start() error {
	tlsConf, err := cp.ca.ServerTLSConfig(ca.ServerTLSParams{TrustDomain: spiffeid.RequireTrustDomainFromString(cp.p.TrustDomain), Hosts: []string{hostOf(cp.p.Listen)}})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	enroll := ca.NewEnrollHandler(cp.ca)
	mux.Handle(enrollproto.PathEnroll, enroll)
	mux.Handle(enrollproto.PathRenew, enroll)
	mux.Handle(enrollproto.PathBundle, enroll)
	mux.Handle(xds.ADSPath, cp.delta.Handler())
	ln, err := net.Listen("tcp", cp.p.Listen)
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	ln = ownlisteners.Default.Track(ln, "control plane")
	cp.tlsLn = ln
	srv := &http.Server{Handler: mux, TLSConfig: tlsConf, ReadHeaderTimeout: 10 * time.Second}
	// Proxies hold one config stream each and enroll now and then: a small stream limit, and the
	// same reset budget as the gateway's.
	if err := h2limit.Configure(srv, h2limit.Limits{MaxConcurrentStreams: 16}, cp.log); err != nil {
		ln.Close()
		return err
	}
	cp.servers = append(cp.servers, srv)
	go func() { cp.serveEnded("control plane", srv.ServeTLS(ln, "", "")) }()
	if cp.p.Admin != "" {
		aln, err := net.Listen("tcp", cp.p.Admin)
		if err != nil {
			ln.Close()
			return fmt.Errorf("control plane admin: %w", err)
		}
		aln = ownlisteners.Default.Track(aln, "control plane admin")
		cp.adminLn = aln
		asrv := &http.Server{Handler: cp.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
		cp.servers = append(cp.servers, asrv)
		go func() { cp.serveEnded("control plane admin", asrv.Serve(aln)) }()
	}
	cp.log.Info("control plane listening", "address", ln.Addr().String(), "admin", cp.p.Admin, "config_dir", cp.p.ConfigDir)
	return nil
}

// Addr is the TLS port's bound address.
func (cp *ControlPlane) Addr() string { return cp.tlsLn.Addr().String() }

// AdminAddr is the admin port's bound address, or "".
func (cp *ControlPlane) AdminAddr() string {
	if cp.adminLn == nil {
		return ""
	}
	return cp.adminLn.Addr().String()
}

// Run watches the source until ctx ends, applying every valid change, then closes the control plane.
// A listener that stops serving (Start's) stops it too: Run closes it and returns why.
func (cp *ControlPlane) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		cp.watch(ctx)
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-cp.served:
		cp.log.Error("a listener stopped serving; stopping", "err", err)
	}
	cancel()
	<-watched
	cp.Close()
	return err
}

// Close stops serving: it closes the servers, not only the listeners, which ends the open config
// streams (otherwise a stopped control plane keeps streaming, and heartbeating, to every connected
// proxy, which then never reconnects to its successor). Closing twice is harmless.
func (cp *ControlPlane) Close() error {
	cp.closeOnce.Do(func() {
		for _, srv := range cp.servers {
			srv.Close()
		}
	})
	return nil
}

// serveEnded reports a server's end to Run unless Close caused it.
func (cp *ControlPlane) serveEnded(what string, err error) {
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return
	}
	select {
	case cp.served <- fmt.Errorf("%s: %w", what, err):
	default:
	}
}

// reload reads, validates and translates the directory, whose fingerprint was stamp before reading. A
// file that does not decode contributes its last good contents (file.Dir); beyond that, only a change
// whose every resource is valid is applied, otherwise the last good plan keeps being served and the
// problems are reported. Unless first, a load during which the directory changed is dropped: it may
// hold half of a write, and the watcher loads the directory again once it is quiet. It returns an
// error only when ctx ended.
func (cp *ControlPlane) reload(ctx context.Context, stamp string, first bool) error {
	snap, err := cp.src.Load(ctx)
	if ctx.Err() != nil {
		return fmt.Errorf("loading %s: %w", cp.p.ConfigDir, ctx.Err())
	}
	if !first && cp.sourceStamp() != stamp {
		cp.log.Debug("the resources changed while they were read; loading them again once they are quiet")
		return nil
	}
	var problems api.Problems
	if err != nil && !errors.As(err, &problems) {
		cp.reject(stamp, err.Error(), nil, []string{err.Error()})
		return nil
	}
	if c, ok := cp.src.(committer); ok {
		c.Commit()
	}
	var warnings []string
	for _, p := range problems {
		if p.Severity == api.SeverityWarning {
			warnings = append(warnings, p.Error())
		}
	}
	res := cp.memo.Translate(snap)
	problems = append(problems, res.Problems()...)
	// Errors on objects of kinds egret does not implement are reported and do not block the rest.
	if errs := problems.Blocking(); len(errs) > 0 {
		var lines []string
		for _, p := range errs {
			lines = append(lines, p.Error())
		}
		cp.reject(stamp, fmt.Sprintf("%d %s; the last good configuration is still served", len(lines), plural(len(lines), "error")), warnings, lines)
		return nil
	}
	for _, p := range problems {
		cp.log.Warn("resource warning", "problem", p.Error()) // includes the ignored unsupported kinds
	}
	now := time.Now()
	cp.mu.Lock()
	cp.plan, cp.result, cp.rejected, cp.stamp, cp.applied = res.Plan, res, nil, stamp, now
	cp.loaded, cp.loadErr, cp.warnings = now, "", warnings
	cp.mu.Unlock()
	cp.log.Info("configuration applied", "gateways", len(res.Plan.Gateways), "services", len(res.Plan.Services),
		"routes", len(res.Plan.Routes), "policies", len(res.Plan.Policies), "workloads", len(res.Plan.Workloads))
	cp.pushDelta()
	return nil
}

func (cp *ControlPlane) reject(stamp, summary string, warnings, problems []string) {
	cp.mu.Lock()
	cp.rejected, cp.stamp = problems, stamp
	cp.loaded, cp.loadErr, cp.warnings = time.Now(), summary, warnings
	cp.mu.Unlock()
	for _, p := range problems {
		cp.log.Error("configuration change rejected; still serving the last good one", "problem", p)
	}
}

// VersionFor is the version of the config served to the proxy holding SPIFFE ID id (the one its
// client reports applying); an identity the plan does not know is xds.ErrUnknownProxy.
func (cp *ControlPlane) VersionFor(id string) (string, error) { return cp.delta.VersionFor(id) }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Run runs a control plane until ctx ends or a listener fails: it loads the CA and the resources,
// opens the TLS and admin ports and follows the source (what `egret controlplane` runs).
func Run(ctx context.Context, p Params) error {
	cp, err := NewContext(ctx, p)
	if err != nil {
		return err
	}
	if err := cp.Start(); err != nil {
		return err
	}
	return cp.Run(ctx)
}
