package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/controlplane"
	"egret.dev/egret/internal/lockdown"
	"egret.dev/egret/internal/proxyrun"
)

// UpOptions configure `egret up`: the whole system in one process.
type UpOptions struct {
	// Dir is the resource directory (watched); DataDir the CA's ("" is ca.DefaultDataDir()).
	Dir, DataDir string
	// Listen and Admin are the control plane's TLS and admin addresses.
	Listen, Admin string
	// DNSServer, UpstreamCA and Resolve (HOST:PORT=ADDR) are handed to every gateway.
	DNSServer, UpstreamCA string
	Resolve               []string
	// Standin starts a local server for every external host and points the gateways at it.
	Standin bool
	// GatewayNet and SidecarNet are the first three octets of the loopback addresses handed out.
	GatewayNet, SidecarNet string
	// SidecarMaxConns and GatewayMaxConns bound each proxy's connections; 0 = derived from the file limit.
	SidecarMaxConns, GatewayMaxConns int
	// Poll is how often up looks for a new plan (gateways and workloads to start or stop); 0 = 300 ms.
	Poll time.Duration
	// ConnectTimeout is the sidecars' gateway connect timeout; 0 = the sidecar's default.
	ConnectTimeout time.Duration
	// Stdout takes the proxies' access logs; Log the JSON logs.
	Stdout io.Writer
	Log    *slog.Logger
}

// Up is a running system (egret up).
type Up struct {
	f       UpOptions
	cp      *controlplane.ControlPlane
	sup     *Supervisor
	log     *slog.Logger
	dataDir string
	// sidecarLimits and gatewayLimits are what each sidecar and gateway listener may hold.
	sidecarLimits, gatewayLimits proxyrun.ConnLimits
	// lockdown is nil when transparent Workloads can get their own network namespace here, else why not.
	lockdown error

	ctx       context.Context
	ctxCancel context.CancelFunc
	cpDone    chan struct{}

	mu       sync.Mutex
	gateways []upProxy
	sidecars []upProxy
	skipped  []string
	failures []string
	places   places
	standin  *upStandin // nil without --standin
	// listening holds the units whose listeners are open.
	listening map[string]bool
	// standinHosts are the host:port pairs the stand-ins answer for now.
	standinHosts []string
}

type upProxy struct {
	name, identity, cluster, address, extra string
}

// StartUp starts the control plane on the resources and a gateway and sidecar for each the plan names,
// and returns once their listeners are open; Wait returns when everything has stopped.
func StartUp(parent context.Context, f UpOptions) (*Up, error) {
	if f.Poll == 0 {
		f.Poll = 300 * time.Millisecond
	}
	if f.DataDir == "" {
		f.DataDir = ca.DefaultDataDir()
	}
	for flag, n := range map[string]string{"--gateway-net": f.GatewayNet, "--sidecar-net": f.SidecarNet} {
		if ip := net.ParseIP(n + ".1"); n != "" && (ip == nil || ip.To4() == nil || strings.Count(n, ".") != 2) {
			return nil, proxyrun.UsageError{Err: fmt.Errorf("%s %q: want the first three octets of an IPv4 address, e.g. 127.0.1", flag, n)}
		}
	}
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	if f.Stdout == nil {
		f.Stdout = io.Discard
	}
	ctx, cancel := context.WithCancel(parent)
	base := f.Log
	u := &Up{f: f, ctx: ctx, ctxCancel: cancel, dataDir: f.DataDir, log: base.With("component", "up"),
		cpDone: make(chan struct{}), places: newPlaces(f)}
	u.sidecarLimits, u.gatewayLimits = upLimits(f)
	fail := func(err error) (*Up, error) {
		cancel()
		if u.standin != nil {
			u.standin.close()
		}
		return nil, err
	}
	if f.Standin {
		st, err := startStandin(f.UpstreamCA)
		if err != nil {
			return fail(fmt.Errorf("--standin: %w", err))
		}
		u.standin = st
		u.f.UpstreamCA = st.caFile
	}
	cp, err := controlplane.NewContext(ctx, controlplane.Params{ConfigDir: f.Dir, DataDir: u.dataDir, Listen: f.Listen, Admin: f.Admin, Log: base})
	if err != nil {
		return fail(err)
	}
	u.cp = cp
	if st := cp.Status(); len(st.Rejected) > 0 {
		// up starts the proxies the plan names; from an invalid directory it would start none, silently.
		return fail(fmt.Errorf("the resources under %s are invalid:\n  %s", f.Dir, strings.Join(st.Rejected, "\n  ")))
	}
	u.lockdown = lockdown.Supported()
	if u.lockdown == nil {
		u.removeStaleNamespaces()
	}
	plan := cp.Plan()
	units := u.units(plan)
	u.places.announced = u.places.gatewayAddrs()
	cp.SetGatewayAddresses(u.places.announced)
	if err := cp.Start(); err != nil {
		return fail(fmt.Errorf("control plane: %w", err))
	}
	go func() {
		defer close(u.cpDone)
		if err := cp.Run(ctx); err != nil {
			u.failed("control plane", err)
		}
	}()
	u.sup = New(Params{Log: base.With("component", "supervisor"), Exited: func(key string, err error) {
		if err == nil {
			err = fmt.Errorf("stopped on its own")
		}
		u.failed(key, err)
	}})
	u.sup.Apply(units)
	if err := u.awaitListening(units, time.Minute); err != nil {
		u.ctxCancel()
		_ = u.Wait()
		return nil, err
	}
	go u.follow(plan)
	return u, nil
}

// bound returns what a unit calls once its listeners are open.
func (u *Up) bound(key string) func() {
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.listening == nil {
			u.listening = map[string]bool{}
		}
		u.listening[key] = true
	}
}

// awaitListening returns when every unit has opened its listeners, or the first failure (a port that
// is taken, say: the error names the address) when one could not.
func (u *Up) awaitListening(units []Unit, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		u.mu.Lock()
		failures := append([]string(nil), u.failures...)
		waiting := 0
		for _, un := range units {
			if !u.listening[un.Key] {
				waiting++
			}
		}
		u.mu.Unlock()
		switch {
		case len(failures) > 0:
			return fmt.Errorf("%s", strings.Join(failures, "; "))
		case waiting == 0:
			return nil
		case u.ctx.Err() != nil:
			return u.ctx.Err()
		case time.Now().After(deadline):
			u.log.Warn("some proxies have not opened their listeners yet; printing what runs anyway", "waiting", waiting)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// follow starts and stops proxies as the plan changes.
func (u *Up) follow(last any) {
	_ = u.sup.Follow(u.ctx, u.f.Poll, func() ([]Unit, bool, error) {
		plan := u.cp.Plan()
		if any(plan) == last {
			return nil, false, nil
		}
		last = plan
		units := u.units(plan)
		// Sidecars learn where new gateways are before those start.
		if addrs := u.places.gatewayAddrs(); !sameAddrs(addrs, u.places.announced) {
			u.cp.SetGatewayAddresses(addrs)
			u.places.announced = addrs
		}
		return units, true, nil
	}, func(started, stopped []string) {
		u.log.Info("the plan changed what runs", "started", started, "stopped", stopped)
	})
}

// failed records a component's failure and stops everything, as a failed process would.
func (u *Up) failed(what string, err error) {
	u.mu.Lock()
	u.failures = append(u.failures, what+": "+err.Error())
	u.mu.Unlock()
	u.ctxCancel()
}

// Wait returns when everything has stopped (and every namespace is removed).
func (u *Up) Wait() error {
	<-u.ctx.Done()
	u.sup.Stop()
	<-u.cpDone
	if u.standin != nil {
		u.standin.close()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.failures) > 0 {
		return errors.New(strings.Join(u.failures, "; "))
	}
	return nil
}

func (u *Up) Print(w io.Writer) {
	u.mu.Lock()
	defer u.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "control plane\t%s (TLS: enrollment, config streams)\tadmin %s\tdata %s\n", u.cp.Addr(), u.cp.AdminAddr(), u.dataDir)
	if u.standin != nil {
		fmt.Fprintf(tw, "stand-ins\thttps %s, http %s\tCA %s\t%s\n", u.standin.srv.TLSAddr, u.standin.srv.PlainAddr, u.standin.caFile, strings.Join(u.standinHosts, " "))
	}
	for _, g := range u.gateways {
		fmt.Fprintf(tw, "gateway %s\t%s\t%s\t%s\n", g.name, g.identity, g.cluster, g.extra)
	}
	for _, sc := range u.sidecars {
		fmt.Fprintf(tw, "sidecar %s\t%s\t%s\t%s\n", sc.name, sc.identity, sc.cluster, sc.extra)
	}
	tw.Flush()
	for _, sk := range u.skipped {
		fmt.Fprintln(w, "not started: "+sk)
	}
	for _, sc := range u.sidecars {
		if sc.address != "" {
			fmt.Fprintf(w, "\ntry:  curl -x http://%s http://www.google.com/\n      egret status --admin %s\n\n", sc.address, u.cp.AdminAddr())
			break
		}
	}
}

// ControlPlane is the control plane up runs.
func (u *Up) ControlPlane() *controlplane.ControlPlane { return u.cp }

// SidecarAddress is where the named workload's (NAMESPACE/NAME) explicit sidecar listens, or "".
func (u *Up) SidecarAddress(name string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, sc := range u.sidecars {
		if sc.name == name {
			return sc.address
		}
	}
	return ""
}

// LockdownUnsupported is why transparent workloads cannot get their own network namespace here, or nil.
func (u *Up) LockdownUnsupported() error { return u.lockdown }

// upLimits are the limits `egret up` gives each proxy it runs in its one process: a sidecar may hold an
// eighth of the process's file descriptors, a gateway listener a quarter, so one workload flooding its
// sidecar leaves the others, the gateways and the control plane room to work. f's own limits win.
func upLimits(f UpOptions) (sidecar, gateway proxyrun.ConnLimits) {
	n := openFileLimit()
	sidecar.Max = clamp(n/8, 16, proxyrun.DefaultSidecarMaxConns)
	gateway.Max = clamp(n/4, 64, proxyrun.DefaultGatewayMaxConns)
	if f.SidecarMaxConns > 0 {
		sidecar.Max = f.SidecarMaxConns
	}
	if f.GatewayMaxConns > 0 {
		gateway.Max = f.GatewayMaxConns
	}
	return sidecar, gateway
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// removeStaleNamespaces removes what an up killed with SIGKILL left: namespaces, veths and the rules
// inside them.
func (u *Up) removeStaleNamespaces() {
	removed, err := lockdown.RemoveStale()
	if len(removed) > 0 {
		u.log.Info("removed network namespaces left by an egret up that is gone", "namespaces", removed)
	}
	if err != nil {
		u.log.Warn("could not remove every leftover network namespace", "err", err)
	}
}
