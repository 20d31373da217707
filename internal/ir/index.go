package ir

import "strings"

// index is the compiled form of a Plan that makes a decision cost a few map lookups, whatever the number
// of services and policies.
type index struct {
	clustersByTD map[string][]string
	exact        map[string][]*hostEntry
	// wild is keyed by a wildcard pattern's suffix ("google.com" for "*.google.com", "" for "*").
	wild     map[string][]*hostEntry
	policies map[string][]policyTarget
	tables   []*compiledTable
	// gateExact and gateWild hold the host:ports routed through gateways (overlap.go), keyed as exact and wild.
	gateExact, gateWild map[string][]gate
}

// hostEntry is one host pattern of one service and the ports callable on it.
type hostEntry struct {
	pattern HostPattern
	svc     *ExternalService
	ports   map[uint32]portEntry
}

// portEntry is a callable port: a routed portMatch (route set) or a direct service port.
type portEntry struct {
	port  *ServicePort
	route *Route
}

type policyTarget struct {
	policy *compiledPolicy
	port   uint32
}

type compiledPolicy struct {
	p     *Policy
	rules []compiledRule
}

type compiledRule struct {
	r *Rule
	// ids holds, per client matcher, the identities of a label selection.
	ids []map[SpiffeID]struct{}
}

type routeKey struct {
	svc  string
	host HostPattern
	port uint32
}

// Compile builds the decision index and returns the plan; call it once, before sharing the plan.
func (p *Plan) Compile() *Plan {
	p.compiled = p.build()
	return p
}

// index returns the compiled index, building a private one for a plan nobody compiled (correct but slow).
func (p *Plan) index() *index {
	if p.compiled != nil {
		return p.compiled
	}
	return p.build()
}

func (p *Plan) build() *index {
	ix := &index{
		clustersByTD: map[string][]string{},
		exact:        map[string][]*hostEntry{},
		wild:         map[string][]*hostEntry{},
		policies:     map[string][]policyTarget{},
		gateExact:    map[string][]gate{},
		gateWild:     map[string][]gate{},
	}
	for _, c := range p.Clusters {
		ix.clustersByTD[c.TrustDomain] = append(ix.clustersByTD[c.TrustDomain], c.Name)
	}
	routes := make(map[routeKey]*Route, len(p.Routes))
	for i := range p.Routes {
		r := &p.Routes[i]
		routes[routeKey{r.ServiceID, r.Host, r.PortMatch}] = r
	}
	for i := range p.Services {
		s := &p.Services[i]
		hosts := s.Hosts
		for _, a := range s.Addresses {
			// A single address is called like a host; CIDR ranges are not matched by the decision yet.
			if !strings.Contains(a, "/") {
				hosts = append(hosts[:len(hosts):len(hosts)], HostPattern(NormalizeHost(a)))
			}
		}
		for _, h := range hosts {
			e := &hostEntry{pattern: h, svc: s, ports: make(map[uint32]portEntry, len(s.Ports))}
			for j := range s.Ports {
				sp := &s.Ports[j]
				if sp.PortMatch != 0 {
					// Only the portMatch is callable: the service port itself stays unreachable so that
					// nothing bypasses the gateway.
					e.ports[sp.PortMatch] = portEntry{port: sp, route: routes[routeKey{s.ID, h, sp.PortMatch}]}
					continue
				}
				if _, taken := e.ports[sp.Number]; !taken {
					e.ports[sp.Number] = portEntry{port: sp}
				}
			}
			ix.addGates(e)
			if h.IsWildcard() {
				ix.wild[h.Suffix()] = append(ix.wild[h.Suffix()], e)
			} else {
				ix.exact[string(h)] = append(ix.exact[string(h)], e)
			}
		}
	}
	ix.compileRouteTables(p)
	for i := range p.Policies {
		cp := &compiledPolicy{p: &p.Policies[i]}
		for j := range cp.p.Rules {
			r := &cp.p.Rules[j]
			cr := compiledRule{r: r, ids: make([]map[SpiffeID]struct{}, len(r.Clients))}
			for k, c := range r.Clients {
				if c.ByLabels {
					set := make(map[SpiffeID]struct{}, len(c.Identities))
					for _, id := range c.Identities {
						set[id] = struct{}{}
					}
					cr.ids[k] = set
				}
			}
			cp.rules = append(cp.rules, cr)
		}
		for _, t := range cp.p.Targets {
			ix.policies[t.ServiceID] = append(ix.policies[t.ServiceID], policyTarget{policy: cp, port: t.Port})
		}
	}
	return ix
}

// lookup finds the most specific host entry that has the port, for a caller in cluster ("" = any cluster).
// hostKnown reports whether some entry matched the host on another port.
// Entries the viewer may not see are skipped.
func (ix *index) lookup(host string, port uint32, cluster string, v *viewer) (pe portEntry, e *hostEntry, hostKnown bool) {
	try := func(entries []*hostEntry) bool {
		for _, cand := range entries {
			if cand.svc.Cluster != "" && cluster != "" && cand.svc.Cluster != cluster {
				continue
			}
			if v.skips(cand, port) {
				continue
			}
			hostKnown = true
			if p, ok := cand.ports[port]; ok {
				pe, e = p, cand
				return true
			}
		}
		return false
	}
	if try(ix.exact[host]) {
		return pe, e, true
	}
	// Walk the wildcard suffixes from the longest: "a.b.google.com" tries "b.google.com", "google.com", "com", "".
	rest := host
	for {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		if try(ix.wild[rest]) {
			return pe, e, true
		}
	}
	if host != "" && try(ix.wild[""]) {
		return pe, e, true
	}
	return portEntry{}, nil, hostKnown
}
