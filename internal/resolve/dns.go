package resolve

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// queryDNS asks the configured server for A and AAAA in parallel and
// returns every address with the smallest TTL in the answers.
func (r *Resolver) queryDNS(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	type answer struct {
		addrs []netip.Addr
		ttl   time.Duration
		err   error
		rcode int
	}
	results := make(chan answer, 2)
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		go func() {
			var a answer
			a.addrs, a.ttl, a.rcode, a.err = r.exchange(ctx, host, qtype)
			results <- a
		}()
	}
	var (
		addrs    []netip.Addr
		ttl      time.Duration = -1
		firstErr error
		nx       int
	)
	for range 2 {
		a := <-results
		switch {
		case a.err != nil:
			if firstErr == nil {
				firstErr = a.err
			}
		case a.rcode == dns.RcodeNameError:
			nx++
		case len(a.addrs) > 0:
			addrs = append(addrs, a.addrs...)
			if ttl < 0 || a.ttl < ttl {
				ttl = a.ttl
			}
		}
	}
	if len(addrs) > 0 {
		return addrs, ttl, nil // one family answering is enough
	}
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if nx > 0 {
		return nil, 0, fmt.Errorf("resolve %s: %w (NXDOMAIN from %s)", host, ErrNotFound, r.opts.Server)
	}
	return nil, 0, fmt.Errorf("resolve %s: %w (no A or AAAA record at %s)", host, ErrNotFound, r.opts.Server)
}

// exchange sends one query over UDP and repeats it over TCP when the UDP
// answer is truncated.
func (r *Resolver) exchange(ctx context.Context, host string, qtype uint16) ([]netip.Addr, time.Duration, int, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(host), qtype)
	m.RecursionDesired = true
	resp, err := r.send(ctx, m, "udp")
	if err == nil && resp.Truncated {
		resp, err = r.send(ctx, m, "tcp")
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("resolve %s: query %s to %s: %w", host, dns.TypeToString[qtype], r.opts.Server, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, 0, resp.Rcode, fmt.Errorf("resolve %s: %s answered %s for %s", host, r.opts.Server, dns.RcodeToString[resp.Rcode], dns.TypeToString[qtype])
	}
	addrs, ttl := collect(dns.Fqdn(host), resp.Answer)
	return addrs, ttl, resp.Rcode, nil
}

func (r *Resolver) send(ctx context.Context, m *dns.Msg, network string) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: r.opts.Timeout}
	resp, _, err := c.ExchangeContext(ctx, m, r.opts.Server)
	return resp, err
}

// collect follows the CNAME chain from qname and keeps only the address
// records on it, so unrelated records a server adds are ignored.
func collect(qname string, rrs []dns.RR) ([]netip.Addr, time.Duration) {
	names := map[string]bool{dns.CanonicalName(qname): true}
	for changed := true; changed; {
		changed = false
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CNAME); ok && names[dns.CanonicalName(c.Hdr.Name)] && !names[dns.CanonicalName(c.Target)] {
				names[dns.CanonicalName(c.Target)] = true
				changed = true
			}
		}
	}
	var (
		addrs []netip.Addr
		ttl   time.Duration = -1 // the smallest TTL on the chain, CNAMEs included
	)
	for _, rr := range rrs {
		if names[dns.CanonicalName(rr.Header().Name)] {
			if t := time.Duration(rr.Header().Ttl) * time.Second; ttl < 0 || t < ttl {
				ttl = t
			}
		}
		var ip []byte
		switch v := rr.(type) {
		case *dns.A:
			ip = v.A.To4()
		case *dns.AAAA:
			ip = v.AAAA.To16()
		default:
			continue
		}
		if !names[dns.CanonicalName(rr.Header().Name)] {
			continue
		}
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		addrs = append(addrs, a)
	}
	return addrs, ttl
}
