package proxyconfig

import "egret.dev/egret/internal/ir"

// addCoRouted adds to services every service that routes a host:port through gateways which a service
// of the gateway's slice also routes (the same name, or a wildcard covering it): the decision applies
// the AccessPolicies of every such claim (ir's overlap rules), so a second routed claim through another
// gateway, without policies, opens nothing the first one restricts. Their routes are not added: this
// gateway still serves only its own.
func addCoRouted(p *ir.Plan, services map[string]bool) {
	type claim struct {
		host      ir.HostPattern
		portMatch uint32
	}
	var mine []claim
	for _, r := range p.Routes {
		if services[r.ServiceID] {
			mine = append(mine, claim{r.Host, r.PortMatch})
		}
	}
	for _, r := range p.Routes {
		if services[r.ServiceID] {
			continue
		}
		for _, c := range mine {
			if c.portMatch == r.PortMatch && (c.host.Covers(r.Host) || r.Host.Covers(c.host)) {
				services[r.ServiceID] = true
				break
			}
		}
	}
}
