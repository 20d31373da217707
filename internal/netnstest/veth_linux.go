package netnstest

import (
	"fmt"
	"net/netip"
	"testing"
)

// Private ranges are the only ones a test may put on an interface, so a test can never shadow a real
// address on the machine: 10.0.0.0/8 for IPv4 and fd00::/8 (unique local) for IPv6.
var allowed = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

// Veth names the two ends of a veth pair.
type Veth struct {
	A, B string // interface names inside namespace a and b
}

// AddVeth links namespace a and b with a veth pair, adds the addresses to each end and brings both up.
// The link is created inside a, never in the caller's namespace, and vanishes with the namespaces.
// IPv6 addresses skip duplicate address detection so they are usable at once.
func AddVeth(t testing.TB, a, b *NS, addrsA, addrsB []netip.Prefix) Veth {
	t.Helper()
	v := Veth{A: uniqueName("va"), B: uniqueName("vb")}
	if err := ip("-n", a.name, "link", "add", v.A, "type", "veth", "peer", "name", v.B, "netns", b.name); err != nil {
		t.Fatalf("netnstest: create veth: %v", err)
	}
	for _, end := range []struct {
		ns    *NS
		dev   string
		addrs []netip.Prefix
	}{{a, v.A, addrsA}, {b, v.B, addrsB}} {
		// Up before addresses: an IPv6 address added to a down link misses its first neighbour
		// solicitation, which costs the first connection a one-second SYN retransmit.
		if err := ip("-n", end.ns.name, "link", "set", end.dev, "up"); err != nil {
			t.Fatalf("netnstest: bring up %s: %v", end.dev, err)
		}
		for _, p := range end.addrs {
			if err := AddAddr(end.ns, end.dev, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	return v
}

// AddAddr adds p to dev inside n; p must be in 10.0.0.0/8 or fd00::/8.
func AddAddr(n *NS, dev string, p netip.Prefix) error {
	if !isAllowed(p) {
		return fmt.Errorf("netnstest: %s is outside 10.0.0.0/8 and fd00::/8; tests may only use private test ranges", p)
	}
	args := []string{"-n", n.name, "addr", "add", p.String(), "dev", dev}
	if p.Addr().Is6() {
		args = append(args, "nodad")
	}
	if err := ip(args...); err != nil {
		return fmt.Errorf("netnstest: %w", err)
	}
	return nil
}

func isAllowed(p netip.Prefix) bool {
	for _, a := range allowed {
		if p.IsValid() && a.Contains(p.Addr()) && p.Bits() >= a.Bits() {
			return true
		}
	}
	return false
}
