package ir

import "sync"

// DecisionCache remembers one plan's decisions, so that a proxy asking again for a request that
// differs in nothing Decide reads gets the same answer without matching routes and rules again. The
// key is every field of the Request that Decide reads except two that are not kept: a decision that
// read a request header, or drew among a route's weighted destinations, is never stored (the next
// request may carry other headers, or draw another destination). A cache serves one plan only, so it
// ends with its config version.
type DecisionCache struct {
	plan *Plan

	mu sync.RWMutex
	m  map[decisionKey]Decision
}

// decisionKey is everything Decide reads from a Request, but Headers and Pick.
type decisionKey struct {
	source                SpiffeID
	sourceText, cluster   string
	host                  string
	port                  uint32
	method, path, gateway string
	opaque                bool
}

// maxCachedDecisions bounds a cache: paths are the caller's to choose, so a full cache starts over
// rather than grow.
const maxCachedDecisions = 4096

// NewDecisionCache returns an empty cache of p's decisions.
func NewDecisionCache(p *Plan) *DecisionCache {
	return &DecisionCache{plan: p, m: make(map[decisionKey]Decision)}
}

// Decide is p.Decide(r), remembered when the answer read neither headers nor the weighted draw.
func (c *DecisionCache) Decide(r Request) Decision {
	k := decisionKey{
		source: r.Source, sourceText: r.SourceText, cluster: r.Cluster, host: r.Host, port: r.Port,
		method: r.Method, path: r.Path, gateway: r.Gateway, opaque: r.Opaque,
	}
	c.mu.RLock()
	d, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return d
	}
	var read bool
	headers := r.Headers
	r.Headers = func(name string) []string {
		read = true
		if headers == nil {
			return nil
		}
		return headers(name)
	}
	d = c.plan.Decide(r)
	if read || d.Split != nil {
		return d // d.Split is set exactly when a route drew among weighted destinations
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedDecisions {
		clear(c.m)
	}
	c.m[k] = d
	c.mu.Unlock()
	return d
}
