package resolve

import (
	"fmt"
	"net/netip"
)

// blockedRange is one address range the SSRF guard refuses.
type blockedRange struct {
	name   string
	prefix netip.Prefix
}

// blocked lists the ranges a DNS answer must not point into, most specific
// first so the error names the metadata endpoint rather than "link-local".
var blocked = []blockedRange{
	{"cloud metadata", netip.MustParsePrefix("169.254.169.254/32")},
	{"cloud metadata", netip.MustParsePrefix("fd00:ec2::254/128")},
	{"unspecified", netip.MustParsePrefix("0.0.0.0/8")},
	{"unspecified", netip.MustParsePrefix("::/128")},
	{"loopback", netip.MustParsePrefix("127.0.0.0/8")},
	{"loopback", netip.MustParsePrefix("::1/128")},
	{"private", netip.MustParsePrefix("10.0.0.0/8")},
	{"private", netip.MustParsePrefix("172.16.0.0/12")},
	{"private", netip.MustParsePrefix("192.168.0.0/16")},
	{"private", netip.MustParsePrefix("fc00::/7")},
	{"link-local", netip.MustParsePrefix("169.254.0.0/16")},
	{"link-local", netip.MustParsePrefix("fe80::/10")},
	{"CGNAT", netip.MustParsePrefix("100.64.0.0/10")},
	{"broadcast", netip.MustParsePrefix("255.255.255.255/32")},
	{"reserved", netip.MustParsePrefix("240.0.0.0/4")},
	{"multicast", netip.MustParsePrefix("224.0.0.0/4")},
	{"multicast", netip.MustParsePrefix("ff00::/8")},
}

// IPv6 forms that carry an IPv4 address inside; the embedded address is
// checked too, so a private IPv4 cannot be smuggled through a translator.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	v4Compat   = netip.MustParsePrefix("::/96")
	teredo     = netip.MustParsePrefix("2001::/32")
)

// Classify reports whether the SSRF guard refuses addr, and if so the name
// and the prefix of the range it falls in. IPv4-mapped, IPv4-compatible,
// NAT64 and 6to4 addresses are judged by the IPv4 address they embed;
// Teredo is refused outright, since its embedded client address is
// obfuscated and it exists to tunnel past network boundaries.
func Classify(addr netip.Addr) (name string, prefix netip.Prefix, refused bool) {
	addr = addr.WithZone("")
	if addr.Is4In6() {
		return Classify(addr.Unmap())
	}
	for _, r := range blocked {
		if r.prefix.Contains(addr) {
			return r.name, r.prefix, true
		}
	}
	if !addr.Is6() {
		return "", netip.Prefix{}, false
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr), v4Compat.Contains(addr):
		return classifyEmbedded(netip.AddrFrom4([4]byte(b[12:16])), "NAT64/IPv4-compatible")
	case nat64Local.Contains(addr):
		return "NAT64 local-use", nat64Local, true
	case sixToFour.Contains(addr):
		return classifyEmbedded(netip.AddrFrom4([4]byte(b[2:6])), "6to4")
	case teredo.Contains(addr):
		return "Teredo", teredo, true
	}
	return "", netip.Prefix{}, false
}

func classifyEmbedded(v4 netip.Addr, form string) (string, netip.Prefix, bool) {
	name, prefix, refused := Classify(v4)
	if !refused {
		return "", netip.Prefix{}, false
	}
	return name + " (embedded in " + form + ")", prefix, true
}

// BlockedError is the SSRF guard's refusal: DNS pointed host at an address
// in a range an external service must not reach.
type BlockedError struct {
	Host   string
	Addr   netip.Addr
	Range  string       // e.g. "private", "cloud metadata"
	Prefix netip.Prefix // the range itself
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("resolve %s: DNS answered %s, in the %s range %s; refused (name the address in the ExternalService or an ExternalEndpoint to allow it)",
		e.Host, e.Addr, e.Range, e.Prefix)
}

// allowed reports whether addr is covered by the caller's explicit list.
func allowed(addr netip.Addr, allow []netip.Prefix) bool {
	addr = addr.WithZone("")
	for _, p := range allow {
		if p.Contains(addr) || (addr.Is4In6() && p.Contains(addr.Unmap())) {
			return true
		}
	}
	return false
}

// guard refuses the whole answer if any address is in a blocked range and
// not allow-listed: a public name that also answers with a private address
// is exactly the rebinding trick the guard exists for.
func guard(host string, addrs []netip.Addr, allow []netip.Prefix) error {
	for _, a := range addrs {
		if allowed(a, allow) {
			continue
		}
		if name, prefix, refused := Classify(a); refused {
			return &BlockedError{Host: host, Addr: a, Range: name, Prefix: prefix}
		}
	}
	return nil
}
