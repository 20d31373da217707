package lockdown

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNamesAreDeterministicAndFitInterfaceNames(t *testing.T) {
	a, b := NameFor("bookinfo", "productpage"), NameFor("bookinfo", "reviews")
	if a != NameFor("bookinfo", "productpage") {
		t.Errorf("the same workload got two names")
	}
	if a == b {
		t.Errorf("two workloads share the namespace %s", a)
	}
	for _, n := range []string{a, b} {
		if !strings.HasPrefix(n, Prefix) {
			t.Errorf("%s lacks the prefix %s", n, Prefix)
		}
		if l := hostLinkFor(n); len(l) > 15 {
			t.Errorf("host link %s is longer than the 15 bytes Linux allows", l)
		}
	}
}

func TestLinkAddressesStayInsideTheLinkLocalRange(t *testing.T) {
	metadata := netip.MustParseAddr("169.254.169.254")
	for _, i := range []int{0, 1, slots - 1, slots, 2*slots + 3} {
		host, ns := slotAddrs(i)
		for _, p := range []netip.Prefix{host, ns} {
			if !linkNet.Contains(p.Addr()) {
				t.Errorf("slot %d: %s outside %s", i, p, linkNet)
			}
			if p.Masked().Contains(metadata) {
				t.Errorf("slot %d: %s covers the metadata address", i, p)
			}
		}
		if host.Masked() != ns.Masked() || host.Addr() == ns.Addr() {
			t.Errorf("slot %d: host %s and namespace %s are not two ends of one /30", i, host, ns)
		}
	}
}
