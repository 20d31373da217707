// Package failover dials one of several equivalent addresses: each call starts at the next one in turn,
// so load spreads, and moves on to the following ones after a connect error.
package failover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
)

// Rotor hands out starting positions in turn; its zero value is ready, and it is safe for concurrent use.
type Rotor struct{ next atomic.Uint64 }

// Start returns the position the next call among n addresses starts at.
func (r *Rotor) Start(n int) int {
	if n <= 1 {
		return 0
	}
	return int((r.next.Add(1) - 1) % uint64(n))
}

// Dial tries addrs from position start, wrapping around, until one connects; dial gets the position of
// the address to try. It stops early when ctx ends. The error names every address tried and why it failed.
func Dial(ctx context.Context, addrs []string, start int, dial func(ctx context.Context, i int) (net.Conn, error)) (net.Conn, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no address to dial")
	}
	var errs []error
	for i := range addrs {
		j := (start + i) % len(addrs)
		a := addrs[j]
		c, err := dial(ctx, j)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", a, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &Error{attempts: len(errs), err: errors.Join(errs...)}
}

// Error is every address tried failing. Attempts lets an access log tell one failed connect (UF) from
// failover over several addresses exhausted (URX).
type Error struct {
	attempts int
	err      error
}

func (e *Error) Error() string { return e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

// Attempts is the number of addresses tried.
func (e *Error) Attempts() int { return e.attempts }

// Index is the position of addr in addrs, or -1.
func Index(addrs []string, addr string) int {
	for i, a := range addrs {
		if a == addr {
			return i
		}
	}
	return -1
}

// Lookup finds the addresses of a host name.
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// DialAddress dials addr (host:port): an IP as written, a host name at each address lookup gives, in
// turn. check vets every address before it is dialled (a refused one is skipped with its reason), so a
// name that resolves somewhere it must not go is never dialled there.
func DialAddress(ctx context.Context, addr string, lookup Lookup, check func(netip.Addr) error,
	dial func(ctx context.Context, addrPort string) (net.Conn, error)) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %s", addr)
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = lookup(ctx, host); err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		if err := check(a); err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := dial(ctx, netip.AddrPortFrom(a.Unmap(), uint16(port)).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%s: no address", host)
	}
	return nil, errors.Join(errs...)
}
