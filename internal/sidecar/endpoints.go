package sidecar

import (
	"context"
	"net"
	"net/netip"

	"egret.dev/egret/internal/failover"
	"egret.dev/egret/internal/ir"
)

// dialDirect makes a connection the sidecar opens itself. A direct call to a service with ExternalEndpoints
// goes to them, starting at addr (the endpoint picked for the call) and failing over on connect errors;
// anything else is dialled as addressed.
func (s *Sidecar) dialDirect(ctx context.Context, network, addr string, c *call) (net.Conn, error) {
	if c == nil || c.decision.Kind != ir.KindDirect || len(c.decision.Endpoints) == 0 {
		return s.outbound.DialContext(ctx, network, addr)
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
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		r := s.p.Direct.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		return r.LookupNetIP(ctx, "ip", host)
	}
	return failover.DialAddress(ctx, ep.Address, lookup, ep.CheckDial, func(ctx context.Context, addr string) (net.Conn, error) {
		return s.outbound.DialContext(ctx, network, addr)
	})
}
