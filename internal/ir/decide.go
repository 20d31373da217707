package ir

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Decide answers whether the request may go out, and how. It is the one decision shared by the gateway,
// the sidecar, `egret check` and the Istio renderer, so that a policy means the same thing everywhere.
func (p *Plan) Decide(r Request) Decision {
	ix := p.index()
	host := NormalizeHost(r.Host)
	d := Decision{Host: host, Port: r.Port, Source: r.SourceText, Cluster: r.Cluster}
	if d.Source == "" {
		d.Source = r.Source.String()
	}
	if !r.Source.IsZero() {
		clusters := ix.clustersByTD[r.Source.TrustDomain]
		if len(clusters) == 0 {
			d.Kind = KindDenied
			d.Reason = fmt.Sprintf("unknown trust domain %q of %s: no cluster of the mesh has it", r.Source.TrustDomain, r.Source)
			return d
		}
		if d.Cluster == "" {
			d.Cluster = clusters[0]
		}
	}

	vw := p.viewerFor(r.Source, d.Cluster)
	d.Workspace = vw.workspace
	// A RouteTable that claims the host decides which service the request goes to (httproute.go); at a
	// sidecar, only the tables of the caller's own workspace apply.
	var via *routed
	if !r.Opaque {
		var done bool
		inScope := func(t *RouteTable) bool { return r.Gateway != "" || p.tableInWorkspace(t, d.Cluster, &vw) }
		if via, done = ix.routeTables(r, host, &d, inScope); done {
			return d
		}
	}
	if via != nil {
		host, r.Port, d.Host, d.Port = via.host, via.port, via.host, via.port
	}
	pe, entry, hostKnown := ix.lookup(host, r.Port, d.Cluster, &vw)
	if via != nil && via.gateway != nil {
		// A gateway route names its service itself: the caller must still be able to see it.
		pe, entry = portEntry{port: via.dest.port, route: via.gateway}, via.dest.entry
		if vw.on && vw.visibleIn(entry.svc) == nil {
			vw.hidden, vw.hiddenPort = entry, pe
		}
	}
	if vw.refuses(entry) {
		vw.refuse(&d, hostPort(host, r.Port))
		return d
	}
	// A host:port that any claim routes through gateways is never direct or passed through (overlap.go).
	pe, entry, refused := ix.overrule(&d, host, r.Port, pe, entry, &vw, p.Outbound)
	if refused {
		return d
	}
	vw.explain(&d, entry)
	if entry == nil {
		p.unregistered(&d, host, r.Port, hostKnown)
		return d
	}
	if !ix.authorize(&d, r, pe, entry) {
		return d
	}
	if isRouted(pe, entry) && ix.coRouted(&d, r, host, entry) {
		return d
	}
	finish(&d, host, r.Port, pe, entry)
	return d
}

// hostPort is host:port, for reasons and refusals: built when one is, not per request.
func hostPort(host string, port uint32) string {
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}

// unregistered decides a request to a host:port the registry does not have: refused under
// REGISTRY_ONLY, passed through directly under ALLOW_ANY.
func (p *Plan) unregistered(d *Decision, host string, port uint32, hostKnown bool) {
	d.Upstream = hostPort(host, port)
	what := d.Upstream + " is not in the registry"
	if hostKnown {
		what = d.Upstream + " is not in the registry (the host is, on other ports)"
	}
	if p.Outbound == RegistryOnly {
		d.Kind = KindNotInRegistry
		d.Reason = what + " (outboundTrafficPolicy REGISTRY_ONLY)"
		return
	}
	d.Allow, d.Kind = true, KindPassthrough
	d.Reason = what + "; outboundTrafficPolicy ALLOW_ANY passes it through directly"
}

// authorize applies the AccessPolicies of the entry's service port (enforced and dry-run) and reports
// whether the request may go on; d says why either way.
func (ix *index) authorize(d *Decision, r Request, pe portEntry, entry *hostEntry) bool {
	sp := pe.port
	d.Service, d.ServicePort, d.Route = entry.svc.ID, sp.Number, entry.pattern
	var applying []policyTarget
	for _, pt := range ix.policies[entry.svc.ID] {
		if pt.port == 0 || pt.port == sp.Number {
			applying = append(applying, pt)
		}
	}
	enforced := evaluate(applying, r, false)
	if dry := evaluate(applying, r, true); dry.applies && !dry.matched {
		d.DryRunDeny, d.DryRunReason, d.DryRunPolicy = true, dry.reason, dry.policy
	}
	switch {
	case !enforced.applies:
		// One concatenation: this reason is built for every allowed request to an unrestricted service.
		d.Reason = "no AccessPolicy restricts ExternalService " + entry.svc.ID + " port " + strconv.FormatUint(uint64(sp.Number), 10) + "; any caller is allowed"
	case !enforced.matched:
		d.Kind, d.Reason, d.Policy = KindDenied, enforced.reason, enforced.policy
		return false
	default:
		d.Policy = enforced.policy
		// One concatenation, one allocation: this reason is built for every allowed request.
		caller := d.Source
		if caller == "" {
			caller = callerName(r.Source)
		}
		d.Reason = "AccessPolicy " + enforced.policy + " allows " + caller + " to ExternalService " + entry.svc.ID + " port " + strconv.FormatUint(uint64(sp.Number), 10)
	}
	return true
}

// finish fills in where an authorized request goes: its upstream, TLS origination, endpoints and
// gateways. Where the call goes is filled in only once it may go.
func finish(d *Decision, host string, port uint32, pe portEntry, entry *hostEntry) {
	sp := pe.port
	upstreamPort := sp.TargetPort
	if upstreamPort == 0 {
		upstreamPort = sp.Number
	}
	d.Upstream = hostPort(host, upstreamPort)
	if sp.TLS != nil && sp.TLS.Mode != "DISABLE" {
		d.TLSMode, d.SNI = sp.TLS.Mode, sp.TLS.SNI
		if d.SNI == "" {
			d.SNI = host
		}
	}
	if sp.NoEndpoints != "" {
		d.Kind, d.Reason = KindNoEndpoints, sp.NoEndpoints
		return
	}
	d.Endpoints = sp.Endpoints
	if pe.route == nil && sp.PortMatch == 0 {
		d.Allow, d.Kind = true, KindDirect
		return
	}
	if pe.route == nil || len(pe.route.Targets) == 0 {
		d.Kind = KindNoRoute
		svcDesc := "ExternalService " + entry.svc.ID + " port " + strconv.FormatUint(uint64(sp.Number), 10)
		d.Reason = fmt.Sprintf("no egress gateway serves %s (%s routes port %d through gateways)", hostPort(host, port), svcDesc, sp.PortMatch)
		return
	}
	d.Allow, d.Kind = true, KindRouted
	d.Targets = orderTargets(pe.route.Targets, d.Cluster)
}

// orderTargets puts the caller's own cluster's gateways first, keeping the plan's order otherwise, so
// traffic stays in its cluster while it can and fails over in a predictable order.
func orderTargets(ts []GatewayTarget, cluster string) []GatewayTarget {
	if inOrder(ts, cluster) {
		return ts[:len(ts):len(ts)] // no copy; an append by the caller copies
	}
	out := make([]GatewayTarget, 0, len(ts))
	for _, t := range ts {
		if t.Cluster == cluster {
			out = append(out, t)
		}
	}
	for _, t := range ts {
		if t.Cluster != cluster {
			out = append(out, t)
		}
	}
	return out
}

// inOrder reports whether ts already lists cluster's own gateways first.
func inOrder(ts []GatewayTarget, cluster string) bool {
	others := false
	for _, t := range ts {
		if t.Cluster != cluster {
			others = true
		} else if others {
			return false
		}
	}
	return true
}

func callerName(id SpiffeID) string {
	if id.IsZero() {
		return "an unauthenticated caller"
	}
	return id.String()
}

// verdict is the outcome of one set of rules (enforced or dry-run) across the policies that apply.
type verdict struct {
	applies, matched bool
	policy, reason   string
}

// evaluate OR-s the rules of one set (dryRun == dry) across policies: the first match allows; otherwise
// the reason names the policies and, when a rule accepted the caller, the condition that failed.
func evaluate(pts []policyTarget, r Request, dry bool) verdict {
	var v verdict
	var names []string
	var detail string
	for _, pt := range pts {
		cp := pt.policy
		counted := false
		for i := range cp.rules {
			cr := &cp.rules[i]
			if cr.r.DryRun != dry {
				continue
			}
			v.applies = true
			if !counted {
				names = append(names, cp.p.ID)
				counted = true
			}
			ok, why := cr.match(r)
			if ok {
				v.matched, v.policy = true, cp.p.ID
				return v
			}
			if detail == "" {
				detail = why
			}
		}
	}
	if !v.applies {
		return v
	}
	v.policy = strings.Join(names, ", ")
	v.reason = fmt.Sprintf("no rule of AccessPolicy %s allows %s", v.policy, callerName(r.Source))
	if detail != "" {
		v.reason += ": " + detail
	}
	return v
}
