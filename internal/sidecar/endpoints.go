package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"egret.dev/egret/internal/failover"
	"egret.dev/egret/internal/ir"
)

// dialDirect makes a connection the sidecar opens itself. A direct call to a service with ExternalEndpoints
// goes to them, starting at addr (the endpoint picked for the call) and failing over on connect errors;
// anything else is dialled as addressed.
func (s *Sidecar) dialDirect(ctx context.Context, network, addr string, c *call) (net.Conn, error) {
	if c == nil || c.decision.Kind != ir.KindDirect || len(c.decision.Endpoints) == 0 {
		return s.p.Direct.DialContext(ctx, network, addr)
	}
	eps := c.decision.Endpoints
	addrs := ir.EndpointAddresses(eps)
	start := failover.Index(addrs, addr)
	if start < 0 {
		start = c.epStart % len(eps)
	}
	return failover.Dial(ctx, addrs, start, func(ctx context.Context, i int) (net.Conn, error) {
		return s.dialEndpoint(ctx, network, eps[i])
	})
}

// dialEndpoint dials one ExternalEndpoint: an IP as declared, a host name through the sidecar's dialer's
// resolver; a link-local or metadata address the endpoint did not opt in to is refused either way.
func (s *Sidecar) dialEndpoint(ctx context.Context, network string, ep ir.UpstreamEndpoint) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(ep.Address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %s", ep.Address)
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		r := s.p.Direct.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, a := range addrs {
		if err := ep.CheckDial(a); err != nil {
			errs = append(errs, err)
			continue
		}
		conn, err := s.p.Direct.DialContext(ctx, network, netip.AddrPortFrom(a.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
