package ir

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// A gate is a host:port that an ExternalService sends through egress gateways: a route's portMatch, or
// the service port the route leads to. Whatever other claims say about the same host:port (an exact
// name in another namespace, a wildcard covering the name, ALLOW_ANY), it is never dialled directly:
// the gateway path wins for everyone.
type gate struct {
	entry *hostEntry
	port  uint32
	// routed says port is the route's portMatch; pe is then the routed port entry. Otherwise port is the
	// service port number, which is never callable without the gateway.
	routed bool
	pe     portEntry
}

// addGates records the gated ports of one host entry.
func (ix *index) addGates(e *hostEntry) {
	var gs []gate
	for pm, pe := range e.ports {
		if pe.port.PortMatch == 0 || pe.port.PortMatch != pm {
			continue
		}
		gs = append(gs, gate{entry: e, port: pm, routed: true, pe: pe})
	}
	for _, pe := range e.ports {
		if sp := pe.port; sp.PortMatch != 0 && sp.Number != sp.PortMatch {
			if _, alsoRouted := e.ports[sp.Number]; !alsoRouted {
				gs = append(gs, gate{entry: e, port: sp.Number, pe: portEntry{port: sp}})
			}
		}
	}
	if len(gs) == 0 {
		return
	}
	key, m := string(e.pattern), ix.gateExact
	if e.pattern.IsWildcard() {
		key, m = e.pattern.Suffix(), ix.gateWild
	}
	m[key] = append(m[key], gs...)
}

// gateFor finds the most specific gate on host:port (an exact name, then wildcards from the longest
// suffix), in any cluster and any workspace: a gate binds every caller.
func (ix *index) gateFor(host string, port uint32) *gate {
	find := func(gs []gate) *gate {
		for i := range gs {
			if gs[i].port == port {
				return &gs[i]
			}
		}
		return nil
	}
	if g := find(ix.gateExact[host]); g != nil {
		return g
	}
	rest := host
	for {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		if g := find(ix.gateWild[rest]); g != nil {
			return g
		}
	}
	if host == "" {
		return nil
	}
	return find(ix.gateWild[""])
}

// isRouted reports whether a looked-up port entry goes through gateways.
func isRouted(pe portEntry, e *hostEntry) bool {
	return e != nil && pe.port != nil && pe.port.PortMatch != 0
}

// overrule applies a gate to a lookup that would go direct or pass through. It returns the entry to use
// instead (the routed one, with d.Overlap saying why) or refused = true with d filled in.
func (ix *index) overrule(d *Decision, host string, port uint32, pe portEntry, e *hostEntry, vw *viewer, outbound OutboundMode) (portEntry, *hostEntry, bool) {
	if isRouted(pe, e) || e == nil && outbound == RegistryOnly {
		// Routed already, or refused as not in the registry anyway.
		return pe, e, false
	}
	g := ix.gateFor(host, port)
	if g == nil {
		return pe, e, false
	}
	hostPort := joinHostPort(host, port)
	gs := g.entry.svc
	var other string
	switch {
	case e != nil:
		other = fmt.Sprintf("ExternalService %s also claims %s directly", e.svc.ID, hostPort)
	case outbound == AllowAny:
		other = fmt.Sprintf("outboundTrafficPolicy ALLOW_ANY would pass %s through directly", hostPort)
	}
	inCluster := gs.Cluster == "" || d.Cluster == "" || gs.Cluster == d.Cluster
	visible := !vw.on || vw.visibleIn(gs) != nil
	if g.routed && inCluster && visible {
		if other != "" {
			d.Overlap = fmt.Sprintf("%s; the gateway route of %s wins", other, gs.ID)
		}
		return g.pe, g.entry, false
	}
	var why string
	switch {
	case !g.routed:
		why = fmt.Sprintf("ExternalService %s routes %s through egress gateways (called on port %d), so port %d is never dialled directly", gs.ID, g.entry.pattern, g.pe.port.PortMatch, port)
	case !inCluster:
		why = fmt.Sprintf("ExternalService %s routes it through egress gateways in cluster %s only, so no other cluster may dial it directly", gs.ID, gs.Cluster)
	default:
		why = fmt.Sprintf("ExternalService %s routes it through egress gateways and is %s", gs.ID, vw.hiddenText(gs))
		d.Visibility = "hidden: " + vw.hiddenText(gs)
	}
	d.Kind, d.Upstream = KindNotInRegistry, hostPort
	d.Reason = fmt.Sprintf("%s is reached only through egress gateways: %s", hostPort, why)
	if other != "" {
		d.Overlap = fmt.Sprintf("%s; refused, because %s", other, why)
	}
	return pe, e, true
}

func joinHostPort(host string, port uint32) string {
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}

// coRouted applies the AccessPolicies of every other service that routes the same host:port through
// gateways (in the caller's cluster) to a routed call: a second routed claim without policies must not
// open a host that the first one restricts. It reports whether d was denied.
func (ix *index) coRouted(d *Decision, r Request, host string, chosen *hostEntry) bool {
	seen := map[string]bool{chosen.svc.ID: true}
	each := func(gs []gate) bool {
		for i := range gs {
			g := &gs[i]
			s := g.entry.svc
			if !g.routed || g.port != r.Port || seen[s.ID] || (s.Cluster != "" && d.Cluster != "" && s.Cluster != d.Cluster) {
				continue
			}
			seen[s.ID] = true
			var applying []policyTarget
			for _, pt := range ix.policies[s.ID] {
				if pt.port == 0 || pt.port == g.pe.port.Number {
					applying = append(applying, pt)
				}
			}
			hp := joinHostPort(host, r.Port)
			if d.Overlap == "" {
				d.Overlap = fmt.Sprintf("ExternalService %s also routes %s through gateways; the AccessPolicies of both apply", s.ID, hp)
			}
			if v := evaluate(applying, r, false); v.applies && !v.matched {
				d.Kind, d.Policy = KindDenied, v.policy
				d.Reason = fmt.Sprintf("%s is also routed through egress gateways by ExternalService %s, whose policies apply too: %s", hp, s.ID, v.reason)
				return true
			}
		}
		return false
	}
	if each(ix.gateExact[host]) {
		return true
	}
	for rest := host; ; {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		if each(ix.gateWild[rest]) {
			return true
		}
	}
	return host != "" && each(ix.gateWild[""])
}
