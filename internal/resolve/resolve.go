// Package resolve turns an external host into addresses to dial: static endpoints first, else DNS with TTL caching, behind an SSRF guard.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNotFound means the name does not exist (NXDOMAIN) or has no address.
var ErrNotFound = errors.New("no such host")

// Options configure a Resolver. Zero values get the defaults noted.
type Options struct {
	// Server is the DNS server as host:port, queried over UDP with TCP
	// fallback on truncation. Empty means the system resolver, whose
	// answers carry no TTL and are cached for MinTTL.
	Server  string
	MinTTL  time.Duration // default 5 s: floor on caching, so a TTL of 0 cannot turn every request into a query
	MaxTTL  time.Duration // default 5 min: ceiling, so a changed record is seen eventually
	Timeout time.Duration // per query; default 5 s
	// MaxEntries bounds the cache; default 10,000. Wildcard hosts are
	// resolved per request name, so without a bound a client could grow
	// the cache by asking for many names under a wildcard DNS zone.
	MaxEntries int
	Now        func() time.Time // default time.Now; tests inject a fake clock
}

// Lookup is what the caller knows about one host from its config.
type Lookup struct {
	// Static addresses from ExternalEndpoints. When present they are the
	// answer: DNS is not asked, and they pass the SSRF guard because the
	// operator named them.
	Static []netip.Addr
	// Allow lists addresses or prefixes the ExternalService or an
	// ExternalEndpoint names explicitly; DNS answers inside them pass the
	// SSRF guard.
	Allow []netip.Prefix
}

// Resolver resolves external hosts. It is safe for concurrent use.
type Resolver struct {
	opts   Options
	mu     sync.Mutex
	cache  map[string]cacheEntry
	flight map[string]*call
	query  func(ctx context.Context, host string) ([]netip.Addr, time.Duration, error)
}

type cacheEntry struct {
	addrs   []netip.Addr
	expires time.Time
}

// call is a lookup in progress, shared by concurrent callers for one host.
type call struct {
	done  chan struct{}
	addrs []netip.Addr
	err   error
}

// New returns a Resolver.
func New(opts Options) *Resolver {
	if opts.MinTTL == 0 {
		opts.MinTTL = 5 * time.Second
	}
	if opts.MaxTTL == 0 {
		opts.MaxTTL = 5 * time.Minute
	}
	if opts.MaxTTL < opts.MinTTL {
		opts.MaxTTL = opts.MinTTL
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = 10_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Resolver{opts: opts, cache: map[string]cacheEntry{}, flight: map[string]*call{}}
	if opts.Server != "" {
		r.query = r.queryDNS
	} else {
		r.query = r.querySystem
	}
	return r
}

// Resolve returns the addresses to dial for host: lu.Static when given,
// else the (cached) DNS answer after the SSRF guard. A refused answer is a
// *BlockedError; a name that does not exist wraps ErrNotFound.
func (r *Resolver) Resolve(ctx context.Context, host string, lu Lookup) ([]netip.Addr, error) {
	if len(lu.Static) > 0 {
		return slices.Clone(lu.Static), nil
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return nil, errors.New("resolve: empty host")
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip} // a literal is not DNS, but it must pass the same guard
	} else {
		addrs, err = r.lookup(ctx, host)
		if err != nil {
			return nil, err
		}
	}
	if err := guard(host, addrs, lu.Allow); err != nil {
		return nil, err
	}
	return addrs, nil
}

func (r *Resolver) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	if e, ok := r.cache[host]; ok && r.opts.Now().Before(e.expires) {
		r.mu.Unlock()
		return slices.Clone(e.addrs), nil
	}
	if c, ok := r.flight[host]; ok {
		r.mu.Unlock()
		select {
		case <-c.done:
			return slices.Clone(c.addrs), c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	r.flight[host] = c
	r.mu.Unlock()

	qctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	addrs, ttl, err := r.query(qctx, host)
	cancel()

	r.mu.Lock()
	delete(r.flight, host)
	if err == nil {
		ttl = min(max(ttl, r.opts.MinTTL), r.opts.MaxTTL)
		r.makeRoomLocked()
		r.cache[host] = cacheEntry{addrs: addrs, expires: r.opts.Now().Add(ttl)}
	}
	r.mu.Unlock()
	c.addrs, c.err = addrs, err
	close(c.done)
	return slices.Clone(addrs), err
}

// makeRoomLocked keeps the cache under MaxEntries: expired entries go
// first, then arbitrary ones (map order), which only costs a re-query.
func (r *Resolver) makeRoomLocked() {
	if len(r.cache) < r.opts.MaxEntries {
		return
	}
	now := r.opts.Now()
	for h, e := range r.cache {
		if !now.Before(e.expires) {
			delete(r.cache, h)
		}
	}
	for h := range r.cache {
		if len(r.cache) < r.opts.MaxEntries {
			break
		}
		delete(r.cache, h)
	}
}

// cached reports how many hosts are in the cache (for tests and metrics).
func (r *Resolver) cached() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cache)
}

// querySystem uses Go's resolver (/etc/hosts, resolv.conf); it reports no
// TTL, so the answer is cached for MinTTL.
func (r *Resolver) querySystem(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, 0, fmt.Errorf("resolve %s: %w (system resolver)", host, ErrNotFound)
		}
		return nil, 0, fmt.Errorf("resolve %s: %w", host, err)
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, 0, nil
}
