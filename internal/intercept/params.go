package intercept

import (
	"errors"
	"fmt"
	"net/netip"
)

// Defaults follow Istio's conventions so that operators find familiar numbers.
const (
	// DefaultProxyPort is the sidecar's outbound listener.
	DefaultProxyPort uint16 = 15001
	// DefaultBypassMark is the socket mark (1337) carried by the sidecar's own upstream connections.
	DefaultBypassMark uint32 = 0x539
	// TableName is the nftables table (family inet) that Install owns; nothing else in it is ours.
	TableName = "egret"
	// chainName is the nat output chain inside TableName.
	chainName = "output"
)

// ErrUnsupported is wrapped by every error that says transparent mode cannot run here.
var ErrUnsupported = errors.New("transparent mode unsupported")

// Params says what to redirect and what to leave alone.
type Params struct {
	// ProxyPort is where redirected connections land (on 127.0.0.1 / ::1). Zero means DefaultProxyPort.
	ProxyPort uint16
	// BypassMark is the SO_MARK that exempts a socket from redirection. Zero means DefaultBypassMark.
	BypassMark uint32
	// BypassUID, if set, exempts every socket owned by that user (Istio-style, e.g. uid 1337).
	BypassUID *uint32
	// ExcludeCIDRs are destinations never redirected: the control plane, the gateways.
	// Loopback (127.0.0.0/8, ::1) is always excluded.
	ExcludeCIDRs []netip.Prefix
	// ExcludePorts are destination ports never redirected.
	ExcludePorts []uint16
	// NetNS is the path of a network namespace file (e.g. /var/run/netns/NAME or /proc/PID/ns/net)
	// to install the rules in; empty means the caller's own namespace.
	NetNS string
}

// withDefaults fills zero values and checks what the kernel would otherwise reject with an opaque errno.
func (p Params) withDefaults() (Params, error) {
	if p.ProxyPort == 0 {
		p.ProxyPort = DefaultProxyPort
	}
	if p.BypassMark == 0 {
		p.BypassMark = DefaultBypassMark
	}
	var errs []error
	cidrs := make([]netip.Prefix, 0, len(p.ExcludeCIDRs))
	for i, c := range p.ExcludeCIDRs {
		if !c.IsValid() {
			errs = append(errs, fmt.Errorf("intercept: ExcludeCIDRs[%d]: not a valid prefix", i))
			continue
		}
		// A v4-mapped IPv6 prefix means the IPv4 one: packets on the wire carry the plain IPv4 header.
		if c.Addr().Is4In6() {
			bits := c.Bits() - 96
			if bits < 0 {
				errs = append(errs, fmt.Errorf("intercept: ExcludeCIDRs[%d] %s: a v4-mapped prefix needs at least /96", i, c))
				continue
			}
			c = netip.PrefixFrom(c.Addr().Unmap(), bits)
		}
		cidrs = append(cidrs, c.Masked())
	}
	p.ExcludeCIDRs = cidrs
	for i, port := range p.ExcludePorts {
		if port == 0 {
			errs = append(errs, fmt.Errorf("intercept: ExcludePorts[%d]: port 0 is not a port", i))
		}
	}
	return p, errors.Join(errs...)
}
