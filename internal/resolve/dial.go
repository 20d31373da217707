package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Dialer dials host:port through a Resolver, so every upstream connection
// passes the static-endpoint and SSRF rules. Its DialContext fits
// http.Transport.DialContext and origination.PoolOptions.DialContext.
type Dialer struct {
	Resolver *Resolver
	// Lookup returns the static addresses and allow list for a host (from
	// the ExternalService and its endpoints); nil means none.
	Lookup func(host string) Lookup
	// Dialer makes the TCP connections; its zero value is fine.
	Dialer net.Dialer
}

// DialContext resolves addr's host and tries each address in order until
// one connects, returning the last error if none does.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: bad port %q", addr, portStr)
	}
	var lu Lookup
	if d.Lookup != nil {
		lu = d.Lookup(host)
	}
	addrs, err := d.Resolver.Resolve(ctx, host, lu)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		conn, err := d.Dialer.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}
