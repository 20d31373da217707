package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/controlplane"
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
	// gatewayNet and sidecarNet are the first three octets of the loopback addresses handed out.
	gatewayNet, sidecarNet string
}

func newUpCmd(s streams) *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up -f DIR",
		Short: "Run the whole system on this machine: control plane, gateways, sidecars",
		Long: `up runs, in one process, the control plane on the resources under DIR (watched: edit a file and
every proxy converges), one egress gateway per GatewayLifecycleManager installation and cluster, each
on its own loopback address (127.0.1.1, 127.0.1.2, ... in gateway ID order, listening on its target
ports, e.g. 8443), and an explicit-mode sidecar for each Workload (its sidecar.listen, else 127.0.2.1:15001,
127.0.2.2:15001, ... in namespace/name order). Every proxy enrolls with a join token and streams its
config from the control plane, like a fleet would. It prints what runs where, writes access logs to
standard output and JSON logs (each with a "component") to standard error, and stops everything on
Ctrl-C or SIGTERM.

Gateways and Workloads added while it runs get a config but no process: restart up to start them.`,
		Example: `  egret up -f examples/bookinfo-egress
  curl -x http://127.0.2.1:15001 http://www.google.com/     # productpage's sidecar
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
	fl.StringVar(&f.dataDir, "data-dir", "", "CA data directory (default: a new temporary directory)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:15012", "control plane TLS address")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:15014", "control plane admin address (egret status)")
	fl.StringVar(&f.dnsServer, "dns-server", "", "DNS server for the gateways (default: the system resolver)")
	fl.StringVar(&f.upstreamCA, "upstream-ca", "", "CA bundle the gateways verify external hosts against when an ExternalService names none")
	fl.StringArrayVar(&f.overrides, "resolve", nil, "HOST:PORT=ADDR sent to the gateways (repeatable)")
	addNetFlags(cmd, &f)
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func addNetFlags(cmd *cobra.Command, f *upFlags) {
	cmd.Flags().StringVar(&f.gatewayNet, "gateway-net", "127.0.1", "gateways get loopback addresses NET.1, NET.2, ...")
	cmd.Flags().StringVar(&f.sidecarNet, "sidecar-net", "127.0.2", "sidecars without sidecar.listen get NET.1:15001, NET.2:15001, ...")
}

// up is a running system.
type up struct {
	cp        *controlplane.ControlPlane
	gateways  []upProxy
	sidecars  []upProxy
	skipped   []string
	dataDir   string
	wg        sync.WaitGroup
	mu        sync.Mutex
	failures  []string
	ctxCancel context.CancelFunc
}

type upProxy struct {
	name, identity, cluster, address, extra string
}

func startUp(parent context.Context, s streams, f upFlags) (*up, error) {
	ctx, cancel := context.WithCancel(parent)
	u := &up{ctxCancel: cancel, dataDir: f.dataDir}
	if u.dataDir == "" {
		d, err := os.MkdirTemp("", "egret-up-")
		if err != nil {
			cancel()
			return nil, withCode(ExitError, err)
		}
		u.dataDir = d
	}
	base := slog.New(slog.NewJSONHandler(s.err, nil))
	cp, err := controlplane.New(controlplane.Params{ConfigDir: f.dir, DataDir: u.dataDir, Listen: f.listen, Admin: f.admin, Log: base})
	if err != nil {
		cancel()
		return nil, withCode(ExitError, err)
	}
	u.cp = cp
	if st := cp.Status(); len(st.Rejected) > 0 {
		// up starts the proxies the plan names; from an invalid directory it would start none, silently.
		cancel()
		return nil, withCode(ExitError, fmt.Errorf("the resources under %s are invalid:\n  %s", f.dir, strings.Join(st.Rejected, "\n  ")))
	}
	plan := cp.Plan()
	addrs := map[string]string{}
	gws := append(plan.Gateways[:0:0], plan.Gateways...)
	sort.Slice(gws, func(i, j int) bool { return gws[i].ID < gws[j].ID })
	for i, g := range gws {
		ip := fmt.Sprintf("%s.%d", f.gatewayNet, i+1)
		addrs[g.ID] = ip
		var ports []string
		for _, l := range g.Listeners {
			ports = append(ports, fmt.Sprintf("%d→%s:%d", l.Port, ip, l.TargetPort))
		}
		u.gateways = append(u.gateways, upProxy{name: g.ID, identity: g.Identity.String(), cluster: g.Cluster, address: ip, extra: strings.Join(ports, " ")})
	}
	cp.SetGatewayAddresses(addrs)
	if err := cp.Start(); err != nil {
		cancel()
		return nil, withCode(ExitError, err)
	}
	u.run(func() error { return cp.Run(ctx) }, "control plane")

	for i, g := range gws {
		tok, err := cp.Token(g.Identity.String(), 10*time.Minute)
		if err != nil {
			cancel()
			return nil, withCode(ExitError, err)
		}
		ip := addrs[g.ID]
		gf := gatewayFlags{
			address: ip, admin: ip + ":15000", ready: ip + ":15021", accessLogFile: "-",
			dnsServer: f.dnsServer, upstreamCA: f.upstreamCA, overrides: f.overrides,
			drain: 5 * time.Second, upstreamTimeout: 30 * time.Second, maxInFlight: 10000,
			id: identityFlags{controlPlane: cp.Addr(), token: tok},
		}
		u.gateways[i].extra += "  admin " + gf.admin
		u.run(func() error { return runGateway(ctx, s, gf) }, "gateway "+g.ID)
	}
	wls := append(plan.Workloads[:0:0], plan.Workloads...)
	sort.Slice(wls, func(i, j int) bool { return wls[i].Namespace+"/"+wls[i].Name < wls[j].Namespace+"/"+wls[j].Name })
	n := 0
	for _, w := range wls {
		name := w.Namespace + "/" + w.Name
		if w.Sidecar != nil && w.Sidecar.Mode == "transparent" {
			u.skipped = append(u.skipped, name+": transparent mode needs the workload's own network namespace; run 'egret sidecar --transparent' in it")
			continue
		}
		n++
		listen := fmt.Sprintf("%s.%d:15001", f.sidecarNet, n)
		if w.Sidecar != nil && w.Sidecar.Listen != "" {
			listen = w.Sidecar.Listen
		}
		tok, err := cp.Token(w.Identity.String(), 10*time.Minute)
		if err != nil {
			cancel()
			return nil, withCode(ExitError, err)
		}
		sf := sidecarFlags{listen: listen, accessLogFile: "-", id: identityFlags{controlPlane: cp.Addr(), token: tok}}
		u.sidecars = append(u.sidecars, upProxy{name: name, identity: w.Identity.String(), cluster: w.Cluster, address: listen})
		u.run(func() error { return runSidecar(ctx, s, sf) }, "sidecar "+name)
	}
	return u, nil
}

// run starts one component; its failure is remembered and stops everything.
func (u *up) run(f func() error, what string) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		if err := f(); err != nil {
			u.mu.Lock()
			u.failures = append(u.failures, what+": "+err.Error())
			u.mu.Unlock()
			u.ctxCancel()
		}
	}()
}

// wait returns when everything has stopped.
func (u *up) wait() error {
	u.wg.Wait()
	u.ctxCancel()
	if len(u.failures) > 0 {
		return withCode(ExitError, fmt.Errorf("%s", strings.Join(u.failures, "; ")))
	}
	return nil
}

func (u *up) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "control plane\t%s (TLS: enrollment, config streams)\tadmin %s\tdata %s\n", u.cp.Addr(), u.cp.AdminAddr(), u.dataDir)
	for _, g := range u.gateways {
		fmt.Fprintf(tw, "gateway %s\t%s\t%s\t%s\n", g.name, g.identity, g.cluster, g.extra)
	}
	for _, sc := range u.sidecars {
		fmt.Fprintf(tw, "sidecar %s\t%s\t%s\tHTTP_PROXY=http://%s\n", sc.name, sc.identity, sc.cluster, sc.address)
	}
	tw.Flush()
	for _, sk := range u.skipped {
		fmt.Fprintln(w, "not started: "+sk)
	}
	if len(u.sidecars) > 0 {
		fmt.Fprintf(w, "\ntry:  curl -x http://%s http://www.google.com/\n      egret status --admin %s\n\n", u.sidecars[0].address, u.cp.AdminAddr())
	}
}
