package ir

import (
	"fmt"
	"net/netip"
)

// UpstreamEndpoint is one place a service port's traffic is dialled: a selected ExternalEndpoint's address
// on the endpoint port the service port's targetPort names. The service's host stays the authority and SNI.
type UpstreamEndpoint struct {
	// Address is address:port; the address is an IP or a host name (resolved by the proxy).
	Address string `json:"address" yaml:"address"`
	// Endpoint is the ExternalEndpoint (namespace/name) it came from.
	Endpoint string `json:"endpoint" yaml:"endpoint"`
	// AllowLinkLocal is the endpoint's egret.dev/allow-link-local opt-in: without it a proxy refuses to
	// dial a link-local or cloud metadata address, whatever else the config says.
	AllowLinkLocal bool `json:"allowLinkLocal,omitempty" yaml:"allowLinkLocal,omitempty"`
}

// AnnotationAllowLinkLocal on an ExternalEndpoint, set to "true", lets its address be link-local
// (169.254.0.0/16, fe80::/10) or a cloud metadata address (fd00:ec2::254).
const AnnotationAllowLinkLocal = "egret.dev/allow-link-local"

// linkLocal lists the ranges an endpoint may name only with the opt-in, most specific first.
var linkLocal = []struct {
	prefix netip.Prefix
	name   string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
}

// LinkLocalRange names the link-local or metadata range a holds ("169.254.0.0/16 (link-local)"), if any.
// An IPv4-mapped IPv6 address is judged by the IPv4 address it carries.
func LinkLocalRange(a netip.Addr) (string, bool) {
	a = a.WithZone("").Unmap()
	for _, r := range linkLocal {
		if r.prefix.Contains(a) {
			return fmt.Sprintf("%s (%s)", r.prefix, r.name), true
		}
	}
	return "", false
}

// CheckDial refuses a link-local address the endpoint did not opt in to; proxies call it on every address
// they are about to dial for the endpoint (the validation refuses it earlier; this is defence in depth).
func (e UpstreamEndpoint) CheckDial(a netip.Addr) error {
	if e.AllowLinkLocal {
		return nil
	}
	if r, bad := LinkLocalRange(a); bad {
		return fmt.Errorf("ExternalEndpoint %s: address %s is in %s; refused without the %s: \"true\" annotation", e.Endpoint, a, r, AnnotationAllowLinkLocal)
	}
	return nil
}

// EndpointAddresses lists the address:port of each endpoint, for display.
func EndpointAddresses(eps []UpstreamEndpoint) []string {
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = e.Address
	}
	return out
}
