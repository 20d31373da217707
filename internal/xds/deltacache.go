package xds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"reflect"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// deltaCache holds the resources of one type for the proxies that share them, and answers their delta
// watches. It does the work of a change once, not once per proxy:
//
//   - each resource is encoded and hashed once, when it is set, and the encoded resource is shared by
//     every response that carries it;
//   - a watch learns what changed from a log of changes since the generation its proxy holds, not by
//     comparing every resource with the proxy's versions (LinearCache scans the whole type, and copies the
//     proxy's version map, for every wildcard watch on every change: with 10,000 services and 1,000
//     sidecars, 20 million map operations per added service);
//   - a wildcard proxy that is sent every change knows exactly the cache's state afterwards, so its
//     version map is the cache's own for that generation, one immutable map shared by all of them, not
//     a copy per proxy.
type deltaCache struct {
	typ string

	mu      sync.Mutex
	gen     uint64
	res     map[string]*cachedRes
	log     []change          // every update and removal after floor, in generation order
	floor   uint64            // changes at or before floor are no longer in log
	current map[string]string // the versions of res at gen; replaced, never changed
	digest  configDigest      // of every resource's name and version: the type's version, by content
	recent  map[uintptr]mapAt // recent values of current, by map identity (kept alive here)
	order   []uintptr         // recent's keys, oldest first
	watches map[*deltaWatch]struct{}
}

type cachedRes struct {
	version string
	gen     uint64
	b       []byte              // the encoding (wire's value), at hand for comparing
	wire    *discovery.Resource // encoded once, shared by every response
}

type change struct {
	gen  uint64
	name string
}

type mapAt struct {
	m   map[string]string
	gen uint64
}

// recentMaps is how many generations of the version map are recognised; a proxy further behind is
// compared resource by resource once.
const recentMaps = 8

type deltaWatch struct {
	req   *cache.DeltaRequest
	sub   cache.Subscription
	out   chan cache.DeltaResponse
	since uint64 // the generation the proxy's known versions are at
}

func newDeltaCache(typ string) *deltaCache {
	c := &deltaCache{typ: typ, res: map[string]*cachedRes{}, recent: map[uintptr]mapAt{}, watches: map[*deltaWatch]struct{}{}}
	c.remember(map[string]string{})
	return c
}

func mapID(m map[string]string) uintptr { return uintptr(reflect.ValueOf(m).UnsafePointer()) }

// remember makes m the current version map at c.gen.
func (c *deltaCache) remember(m map[string]string) {
	c.current = m
	id := mapID(m)
	c.recent[id] = mapAt{m, c.gen}
	c.order = append(c.order, id)
	if len(c.order) > recentMaps {
		delete(c.recent, c.order[0])
		c.order = c.order[1:]
	}
}

// set makes res (encoded resources, by name) the cache's resources: the ones whose encoding changed get
// a new version, the ones missing are removed, and every watch is answered with what changed for it.
func (c *deltaCache) set(res map[string][]byte) error {
	type enc struct {
		b       []byte
		version string
	}
	changed := map[string]enc{}
	c.mu.Lock()
	defer c.mu.Unlock()
	found := 0 // names of res already in the cache
	for name, b := range res {
		old, ok := c.res[name]
		if ok {
			found++
		}
		if ok && (sameArray(old.b, b) || bytes.Equal(old.b, b)) {
			continue // unchanged: comparing is cheaper than hashing (and free for the same encoding)
		}
		sum := sha256.Sum256(b)
		v := hex.EncodeToString(sum[:12])
		if !ok || old.version != v {
			changed[name] = enc{b, v}
		}
	}
	var removed []string
	if found < len(c.res) { // else every cached name is in res: nothing was removed
		for name := range c.res {
			if _, ok := res[name]; !ok {
				removed = append(removed, name)
			}
		}
	}
	if len(changed) == 0 && len(removed) == 0 {
		return nil
	}
	c.gen++
	next := maps.Clone(c.current)
	for name, e := range changed {
		if old, ok := c.res[name]; ok {
			c.digest.toggle(c.typ, name, old.version)
		}
		c.digest.toggle(c.typ, name, e.version)
		c.res[name] = &cachedRes{version: e.version, gen: c.gen, b: e.b, wire: &discovery.Resource{Name: name, Version: e.version,
			Resource: &anypb.Any{TypeUrl: c.typ, Value: e.b}}}
		next[name] = e.version
		c.log = append(c.log, change{c.gen, name})
	}
	for _, name := range removed {
		c.digest.toggle(c.typ, name, c.res[name].version)
		delete(c.res, name)
		delete(next, name)
		c.log = append(c.log, change{c.gen, name})
	}
	if len(c.log) > 4*len(c.res)+4096 { // proxies older than this are compared resource by resource
		c.log, c.floor = nil, c.gen
	}
	c.remember(next)
	for w := range c.watches {
		if resp := c.respond(w, false); resp != nil {
			delete(c.watches, w)
			w.out <- resp
		}
	}
	return nil
}

// sameArray reports whether a and b are the same bytes in memory (an encoding handed in again): equal
// without reading them, since encodings are never changed once made.
func sameArray(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// CreateDeltaWatch answers at once when the proxy lacks something (or this is its first request on a
// wildcard subscription), else parks the watch until a change concerns it.
func (c *deltaCache) CreateDeltaWatch(req *cache.DeltaRequest, sub cache.Subscription, out chan cache.DeltaResponse) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &deltaWatch{req: req, sub: sub, out: out}
	if at, ok := c.recent[mapID(sub.ReturnedResources())]; ok && sub.IsWildcard() {
		w.since = at.gen
	} else {
		w.since = ^uint64(0) // unknown: compare every resource
	}
	if resp := c.respond(w, sub.IsWildcard() && req.GetResponseNonce() == ""); resp != nil {
		out <- resp
		return nil, nil
	}
	c.watches[w] = struct{}{}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.watches, w)
	}, nil
}

// respond builds w's response, or nil when it has nothing to send and need not answer anyway; afterwards
// w.since is the current generation.
func (c *deltaCache) respond(w *deltaWatch, evenIfEmpty bool) cache.DeltaResponse {
	known := w.sub.ReturnedResources()
	r := &deltaResponse{req: w.req, typ: c.typ, version: c.digest.String()}
	consider := func(name string) {
		if e, ok := c.res[name]; ok {
			if known[name] != e.version {
				r.resources = append(r.resources, e.wire)
			}
		} else if _, ok := known[name]; ok {
			r.removed = append(r.removed, name)
		}
	}
	switch {
	case !w.sub.IsWildcard():
		for name := range w.sub.SubscribedResources() {
			consider(name)
		}
	case w.since == ^uint64(0) || w.since < c.floor:
		for name := range c.res {
			consider(name)
		}
		for name := range known {
			if _, ok := c.res[name]; !ok {
				r.removed = append(r.removed, name)
			}
		}
	default:
		seen := map[string]bool{}
		for i := firstAfter(c.log, w.since); i < len(c.log); i++ {
			if name := c.log[i].name; !seen[name] {
				seen[name] = true
				consider(name)
			}
		}
	}
	w.since = c.gen
	if len(r.resources) == 0 && len(r.removed) == 0 && !evenIfEmpty {
		return nil
	}
	if w.sub.IsWildcard() {
		// Sent every change, the proxy now holds exactly the current versions.
		r.next = c.current
	} else {
		r.next = maps.Clone(known)
		for _, e := range r.resources {
			r.next[e.GetName()] = e.GetVersion()
		}
		for _, name := range r.removed {
			delete(r.next, name)
		}
		// The type's version for this proxy is that of what it holds (a sidecar's own Workload), not of
		// every resource in the cache: the same digest a reconnecting proxy's held versions give, so
		// status compares alike whichever control plane it follows.
		var sum configDigest
		for name, v := range r.next {
			sum.toggle(c.typ, name, v)
		}
		r.version = sum.String()
	}
	return r
}

// firstAfter is the index of the first change after generation gen.
func firstAfter(log []change, gen uint64) int {
	lo, hi := 0, len(log)
	for lo < hi {
		mid := (lo + hi) / 2
		if log[mid].gen <= gen {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// deltaResponse is one response; its resources are the cache's shared encodings.
type deltaResponse struct {
	req       *cache.DeltaRequest
	typ       string
	version   string
	resources []*discovery.Resource
	removed   []string
	next      map[string]string
}

var _ cache.DeltaResponse = (*deltaResponse)(nil)

func (r *deltaResponse) GetDeltaDiscoveryResponse() (*discovery.DeltaDiscoveryResponse, error) {
	return &discovery.DeltaDiscoveryResponse{TypeUrl: r.typ, SystemVersionInfo: r.version, Resources: r.resources, RemovedResources: r.removed}, nil
}
func (r *deltaResponse) GetDeltaRequest() *discovery.DeltaDiscoveryRequest { return r.req }
func (r *deltaResponse) GetSystemVersion() (string, error)                 { return r.version, nil }
func (r *deltaResponse) GetResponseVersion() string                        { return r.version }
func (r *deltaResponse) GetNextVersionMap() map[string]string              { return r.next }
func (r *deltaResponse) GetReturnedResources() map[string]string           { return r.next }
func (r *deltaResponse) GetContext() context.Context                       { return context.Background() }
