package supervisor

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/lockdown"
	"egret.dev/egret/internal/proxyrun"
	"egret.dev/egret/internal/sidecar"
)

// places hands out loopback addresses to gateways and explicit sidecars. An address, once given, stays
// with its owner while up runs, so adding a gateway never moves the others.
type places struct {
	gatewayNet, sidecarNet string
	gateways, sidecars     map[string]string
	announced              map[string]string // the gateway addresses the control plane was last told
}

func newPlaces(f UpOptions) places {
	return places{gatewayNet: f.GatewayNet, sidecarNet: f.SidecarNet, gateways: map[string]string{}, sidecars: map[string]string{}}
}

// next returns the first NET.i (i = 1, 2, ...) that no one in taken holds.
func next(net string, taken map[string]string, suffix string) string {
	used := map[string]bool{}
	for _, a := range taken {
		used[a] = true
	}
	for i := 1; ; i++ {
		if a := fmt.Sprintf("%s.%d%s", net, i, suffix); !used[a] {
			return a
		}
	}
}

func (p *places) gateway(id string) string {
	if a, ok := p.gateways[id]; ok {
		return a
	}
	p.gateways[id] = next(p.gatewayNet, p.gateways, "")
	return p.gateways[id]
}

func (p *places) sidecar(name string) string {
	if a, ok := p.sidecars[name]; ok {
		return a
	}
	p.sidecars[name] = next(p.sidecarNet, p.sidecars, ":15001")
	return p.sidecars[name]
}

func (p *places) gatewayAddrs() map[string]string { return maps.Clone(p.gateways) }

func sameAddrs(a, b map[string]string) bool { return maps.Equal(a, b) }

// units is what should run for plan: a gateway per plan gateway, a sidecar per workload. It also
// refreshes what print shows.
func (u *Up) units(plan *ir.Plan) []Unit {
	u.mu.Lock()
	defer u.mu.Unlock()
	var units []Unit
	gws := append(plan.Gateways[:0:0], plan.Gateways...)
	sort.Slice(gws, func(i, j int) bool { return gws[i].ID < gws[j].ID })
	u.gateways, u.sidecars, u.skipped = nil, nil, nil
	overrides := u.f.Resolve
	if u.standin != nil {
		so := u.standin.overrides(plan)
		overrides = append(append([]string(nil), overrides...), so...)
		u.standinHosts = nil
		for _, o := range so {
			hp, _, _ := strings.Cut(o, "=")
			u.standinHosts = append(u.standinHosts, hp)
		}
	}
	for _, g := range gws {
		ip := u.places.gateway(g.ID)
		var ports []string
		for _, l := range g.Listeners {
			ports = append(ports, fmt.Sprintf("%d→%s:%d", l.Port, ip, l.TargetPort))
		}
		o := gateway.Options{
			Address: ip, Admin: ip + ":15000", Ready: ip + ":15021",
			AccessLog: proxyrun.AccessLog{Path: "-", Stdout: u.f.Stdout},
			DNSServer: u.f.DNSServer, UpstreamCA: u.f.UpstreamCA, Resolve: resolveMap(overrides),
			DrainTimeout: 5 * time.Second, UpstreamTimeout: 30 * time.Second, MaxInFlight: 10000,
			Limits: u.gatewayLimits, Log: u.f.Log,
		}
		u.gateways = append(u.gateways, upProxy{name: g.ID, identity: g.Identity.String(), cluster: g.Cluster, address: ip,
			extra: strings.Join(ports, " ") + "  admin " + o.Admin})
		id := g.Identity.String()
		// The overrides are in the Spec: a host added with --standin restarts the gateways pointed at it.
		units = append(units, Unit{Key: "gateway " + g.ID, Spec: ip + " " + strings.Join(ports, " ") + " " + strings.Join(overrides, ","), Run: func(ctx context.Context) error {
			tok, err := u.cp.Token(id, 10*time.Minute)
			if err != nil {
				return err
			}
			o.Identity = proxyrun.Identity{ControlPlane: u.cp.Addr(), Token: tok}
			o.Bound = u.bound("gateway " + g.ID)
			return gateway.Run(ctx, o)
		}})
	}
	wls := append(plan.Workloads[:0:0], plan.Workloads...)
	sort.Slice(wls, func(i, j int) bool { return wls[i].Namespace+"/"+wls[i].Name < wls[j].Namespace+"/"+wls[j].Name })
	for _, w := range wls {
		if unit, ok := u.sidecarUnit(w); ok {
			units = append(units, unit)
		}
	}
	return units
}

// sidecarUnit is a workload's sidecar: explicit on a loopback address, or transparent in the workload's
// own network namespace. ok is false when it cannot run here (the reason is in u.skipped).
func (u *Up) sidecarUnit(w ir.Workload) (Unit, bool) {
	name := w.Namespace + "/" + w.Name
	id := w.Identity.String()
	token := func() (proxyrun.Identity, error) {
		tok, err := u.cp.Token(id, 10*time.Minute)
		return proxyrun.Identity{ControlPlane: u.cp.Addr(), Token: tok}, err
	}
	if w.Sidecar != nil && w.Sidecar.Mode == "transparent" {
		if u.lockdown != nil {
			u.skipped = append(u.skipped, fmt.Sprintf("%s: transparent mode runs the workload in its own network namespace, which needs root on Linux (%v); run 'egret sidecar --transparent' in the workload's namespace yourself, or use explicit mode", name, u.lockdown))
			return Unit{}, false
		}
		ns := lockdown.NameFor(w.Namespace, w.Name)
		u.sidecars = append(u.sidecars, upProxy{name: name, identity: id, cluster: w.Cluster,
			extra: fmt.Sprintf("transparent, network namespace %s: egret exec %s -- CMD", ns, name)})
		return Unit{Key: "sidecar " + name, Spec: "transparent", Run: func(ctx context.Context) error {
			// The namespace lives exactly as long as the sidecar: a removed workload loses both.
			sb, err := lockdown.Create(w.Namespace, w.Name)
			if err != nil {
				return err
			}
			defer func() {
				if err := sb.Remove(); err != nil {
					u.log.Error("removing a workload's network namespace", "workload", name, "err", err)
				}
			}()
			u.log.Info("network namespace ready", "workload", name, "netns", sb.Name, "host_link", sb.HostLink,
				"host_address", sb.HostAddr.String(), "workload_address", sb.NSAddr.String())
			idf, err := token()
			if err != nil {
				return err
			}
			return sidecar.Run(ctx, u.sidecarOptions(idf, name, "127.0.0.1:15001", sb.Path))
		}}, true
	}
	listen := ""
	if w.Sidecar != nil && w.Sidecar.Listen != "" {
		listen = w.Sidecar.Listen
	} else {
		listen = u.places.sidecar(name)
	}
	u.sidecars = append(u.sidecars, upProxy{name: name, identity: id, cluster: w.Cluster, address: listen, extra: "HTTP_PROXY=http://" + listen})
	return Unit{Key: "sidecar " + name, Spec: "explicit " + listen, Run: func(ctx context.Context) error {
		idf, err := token()
		if err != nil {
			return err
		}
		return sidecar.Run(ctx, u.sidecarOptions(idf, name, listen, ""))
	}}, true
}

// sidecarOptions are a sidecar's: transparent in the network namespace at netns (its own connections
// leave from up's namespace, so they need no bypass mark), else explicit.
func (u *Up) sidecarOptions(id proxyrun.Identity, name, listen, netns string) sidecar.Options {
	return sidecar.Options{
		Identity: id, Listen: listen, Transparent: netns != "", NetNS: netns,
		AccessLog:      proxyrun.AccessLog{Path: "-", Stdout: u.f.Stdout},
		ConnectTimeout: u.f.ConnectTimeout, Limits: u.sidecarLimits, Log: u.f.Log,
		Bound: u.bound("sidecar " + name),
	}
}

// resolveMap turns HOST:PORT=ADDR overrides into the gateway's map.
func resolveMap(overrides []string) map[string]string {
	m := map[string]string{}
	for _, o := range overrides {
		if k, v, ok := strings.Cut(o, "="); ok {
			m[k] = v
		}
	}
	return m
}
