package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
)

// Load may only be aimed at this machine: the workplace forbids load against anything else. The check
// is made twice, once on the URL up front for a clear error and once on every dial (DialControl), so a
// name that resolves differently later still cannot send load elsewhere.

// Resolver looks up a host's addresses; *net.Resolver satisfies it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// RequireLoopbackURL parses rawURL and returns it if it is an http or https URL whose host is a loopback
// address (127.0.0.0/8 or ::1) or a name that resolves only to loopback addresses.
func RequireLoopbackURL(ctx context.Context, r Resolver, rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme must be http or https, got %q", rawURL, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("%q: no host", rawURL)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !isLoopback(a) {
			return nil, fmt.Errorf("%q: %s is not a loopback address; load may only target 127.0.0.0/8 or ::1", rawURL, a)
		}
		return u, nil
	}
	addrs, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", rawURL, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%q: %s resolves to no address", rawURL, host)
	}
	for _, ia := range addrs {
		a, ok := netip.AddrFromSlice(ia.IP)
		if !ok || !isLoopback(a) {
			return nil, fmt.Errorf("%q: %s resolves to %s, which is not a loopback address; load may only target 127.0.0.0/8 or ::1", rawURL, host, ia.IP)
		}
	}
	return u, nil
}

// DialControl is a net.Dialer Control function that refuses, before connect, any connection to an
// address outside 127.0.0.0/8 and ::1.
func DialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("loadgen: refusing to dial %s %q: %w", network, address, err)
	}
	if !isLoopback(ap.Addr()) {
		return fmt.Errorf("loadgen: refusing to dial %s: not a loopback address; load may only target 127.0.0.0/8 or ::1", address)
	}
	return nil
}

func isLoopback(a netip.Addr) bool {
	return a.Unmap().WithZone("").IsLoopback()
}
