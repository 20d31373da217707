package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/controlplane"
	"egret.dev/egret/internal/lockdown"
	"egret.dev/egret/internal/sidecar"
	"egret.dev/egret/internal/supervisor"
)

// upFlags are the flags of `egret up` (and the demo, which runs the same thing).
type upFlags struct {
	dir        string
	dataDir    string
	listen     string
	admin      string
	dnsServer  string
	upstreamCA string
	overrides  []string
	// standin starts a local server for every external host and points the gateways at it.
	standin bool
	// gatewayNet and sidecarNet are the first three octets of the loopback addresses handed out.
	gatewayNet, sidecarNet string
	// sidecarMaxConns and gatewayMaxConns bound each proxy's connections; 0 = derived from the file limit.
	sidecarMaxConns, gatewayMaxConns int
	// poll is how often up looks for a new plan (gateways and workloads to start or stop); 0 = 300 ms.
	poll time.Duration
	// connectTimeout is the sidecars' --gateway-connect-timeout; 0 = the sidecar's default.
	connectTimeout time.Duration
}

func newUpCmd(s streams) *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up -f DIR",
		Short: "Run the whole system on this machine: control plane, gateways, sidecars",
		Long: `up runs, in one process, the control plane on the resources under DIR (watched: edit a file and
every proxy converges), one egress gateway per GatewayLifecycleManager installation and cluster, each
on its own loopback address (127.0.1.1, 127.0.1.2, ... in gateway ID order, listening on its target
ports, e.g. 8443), and a sidecar for each Workload. Every proxy enrolls with a join token and streams its
config from the control plane, like a fleet would. Gateways and Workloads added while up runs are started,
removed ones are stopped.

An explicit-mode Workload's sidecar listens on its sidecar.listen, else 127.0.2.1:15001, 127.0.2.2:15001,
... (point HTTP_PROXY at it). A Workload with sidecar.mode: transparent, when up runs as root on Linux,
gets its own network namespace (egret-<hash>, with a veth to the host): its sidecar redirects the
namespace's outbound TCP with nftables, and the namespace's filter rules let nothing else out, so a
program there that ignores proxies or dials an address directly cannot get out. Run programs there with
'egret exec NAMESPACE/NAME -- CMD'. Namespaces, veths and rules are removed when up exits; the next up
removes what a crashed one left.

It prints what runs where, writes access logs to standard output and JSON logs (each with a
"component") to standard error, and stops everything on Ctrl-C or SIGTERM.`,
		Example: `  egret up -f examples/bookinfo-egress
  curl -x http://127.0.2.1:15001 http://www.google.com/     # productpage's sidecar
  egret exec bookinfo/details -- curl http://www.google.com/   # a transparent workload (root)
  egret status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := startUp(cmd.Context(), s, f)
			if err != nil {
				return err
			}
			u.print(s.out)
			return u.wait()
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.dir, "filename", "f", "", "directory of resources (watched)")
	addDataDirFlag(fl, &f.dataDir, "CA data directory (root key 0600, join tokens), created if missing; 'egret token create' and 'egret ca' read it")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:15012", "control plane TLS address")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:15014", "control plane admin address (egret status)")
	fl.StringVar(&f.dnsServer, "dns-server", "", "DNS server for the gateways (default: the system resolver)")
	fl.StringVar(&f.upstreamCA, "upstream-ca", "", "CA bundle the gateways verify external hosts against when an ExternalService names none")
	fl.StringArrayVar(&f.overrides, "resolve", nil, "HOST:PORT=ADDR sent to the gateways (repeatable)")
	fl.BoolVar(&f.standin, "standin", false, "answer for every external host with a local server (HTTPS under a CA of its own, which the gateways trust): try the resources without reaching the internet")
	fl.IntVar(&f.sidecarMaxConns, "sidecar-max-connections", 0, "connections each sidecar holds at once (default: an eighth of the open-file limit, at most 1024)")
	fl.IntVar(&f.gatewayMaxConns, "gateway-max-connections", 0, "connections each gateway listener holds at once (default: a quarter of the open-file limit, at most 10000)")
	addNetFlags(cmd, &f)
	fl.DurationVar(&f.connectTimeout, "gateway-connect-timeout", sidecar.DefaultConnectTimeout, "how long a sidecar's connection to a gateway (TCP and TLS) may take before the call fails over (see egret sidecar)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func addNetFlags(cmd *cobra.Command, f *upFlags) {
	cmd.Flags().StringVar(&f.gatewayNet, "gateway-net", "127.0.1", "gateways get loopback addresses NET.1, NET.2, ...")
	cmd.Flags().StringVar(&f.sidecarNet, "sidecar-net", "127.0.2", "sidecars without sidecar.listen get NET.1:15001, NET.2:15001, ...")
}

// up is a running system.
type up struct {
	s       streams
	f       upFlags
	cp      *controlplane.ControlPlane
	sup     *supervisor.Supervisor
	log     *slog.Logger
	dataDir string
	// sidecarLimits and gatewayLimits are what each sidecar and gateway listener may hold.
	sidecarLimits, gatewayLimits connLimits
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

func startUp(parent context.Context, s streams, f upFlags) (*up, error) {
	if f.poll == 0 {
		f.poll = 300 * time.Millisecond
	}
	for flag, n := range map[string]string{"--gateway-net": f.gatewayNet, "--sidecar-net": f.sidecarNet} {
		if ip := net.ParseIP(n + ".1"); n != "" && (ip == nil || ip.To4() == nil || strings.Count(n, ".") != 2) {
			return nil, withCode(ExitUsage, fmt.Errorf("%s %q: want the first three octets of an IPv4 address, e.g. 127.0.1", flag, n))
		}
	}
	ctx, cancel := context.WithCancel(parent)
	base := slog.New(slog.NewJSONHandler(s.err, nil))
	u := &up{s: s, f: f, ctx: ctx, ctxCancel: cancel, dataDir: f.dataDir, log: base.With("component", "up"),
		cpDone: make(chan struct{}), places: newPlaces(f)}
	u.sidecarLimits, u.gatewayLimits = upLimits()
	if f.sidecarMaxConns > 0 {
		u.sidecarLimits.Max = f.sidecarMaxConns
	}
	if f.gatewayMaxConns > 0 {
		u.gatewayLimits.Max = f.gatewayMaxConns
	}
	fail := func(err error) (*up, error) {
		cancel()
		if u.standin != nil {
			u.standin.close()
		}
		return nil, withCode(ExitError, err)
	}
	if f.standin {
		st, err := startStandin(f.upstreamCA)
		if err != nil {
			return fail(fmt.Errorf("--standin: %w", err))
		}
		u.standin = st
		u.f.upstreamCA = st.caFile
	}
	if u.dataDir == "" {
		u.dataDir = defaultDataDir()
	}
	cp, err := controlplane.NewContext(ctx, controlplane.Params{ConfigDir: f.dir, DataDir: u.dataDir, Listen: f.listen, Admin: f.admin, Log: base})
	if err != nil {
		return fail(err)
	}
	u.cp = cp
	if st := cp.Status(); len(st.Rejected) > 0 {
		// up starts the proxies the plan names; from an invalid directory it would start none, silently.
		return fail(fmt.Errorf("the resources under %s are invalid:\n  %s", f.dir, strings.Join(st.Rejected, "\n  ")))
	}
	u.lockdown = lockdown.Supported()
	if u.lockdown == nil {
		// What an up killed with SIGKILL left: namespaces, veths and the rules inside them.
		removed, err := lockdown.RemoveStale()
		if len(removed) > 0 {
			u.log.Info("removed network namespaces left by an egret up that is gone", "namespaces", removed)
		}
		if err != nil {
			u.log.Warn("could not remove every leftover network namespace", "err", err)
		}
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
	u.sup = supervisor.New(supervisor.Params{Log: base.With("component", "supervisor"), Exited: func(key string, err error) {
		if err == nil {
			err = fmt.Errorf("stopped on its own")
		}
		u.failed(key, err)
	}})
	u.sup.Apply(units)
	if err := u.awaitListening(units, time.Minute); err != nil {
		u.ctxCancel()
		_ = u.wait()
		return nil, withCode(ExitError, err)
	}
	go u.follow(plan)
	return u, nil
}

// bound returns what a unit calls once its listeners are open.
func (u *up) bound(key string) func() {
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
func (u *up) awaitListening(units []supervisor.Unit, limit time.Duration) error {
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
func (u *up) follow(last any) {
	_ = u.sup.Follow(u.ctx, u.f.poll, func() ([]supervisor.Unit, bool, error) {
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
func (u *up) failed(what string, err error) {
	u.mu.Lock()
	u.failures = append(u.failures, what+": "+err.Error())
	u.mu.Unlock()
	u.ctxCancel()
}

// wait returns when everything has stopped (and every namespace is removed).
func (u *up) wait() error {
	<-u.ctx.Done()
	u.sup.Stop()
	<-u.cpDone
	if u.standin != nil {
		u.standin.close()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.failures) > 0 {
		return withCode(ExitError, fmt.Errorf("%s", strings.Join(u.failures, "; ")))
	}
	return nil
}

func (u *up) print(w io.Writer) {
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
