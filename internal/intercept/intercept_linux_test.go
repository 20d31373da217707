package intercept

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/google/nftables"
)

var (
	dst4      = netip.AddrPortFrom(dstAddr4.Addr(), destPort)
	dst6      = netip.AddrPortFrom(dstAddr6.Addr(), destPort)
	excluded4 = netip.AddrPortFrom(exclAddr4.Addr(), destPort)
	exclPort4 = netip.AddrPortFrom(dstAddr4.Addr(), exclPort)
)

func testParams(b *bed) Params {
	return Params{
		ProxyPort:    testProxyPort,
		ExcludeCIDRs: []netip.Prefix{netip.PrefixFrom(exclAddr4.Addr(), 32)},
		ExcludePorts: []uint16{exclPort},
		NetNS:        b.wl.Path(),
	}
}

func TestTransparentRedirect(t *testing.T) {
	b := newBed(t)
	// Before any rules, everything goes straight out: the bed itself works.
	if got := b.fetch(t, nil, dst4); got != direct(dst4) {
		t.Fatalf("before Install: got %q, want %q", got, direct(dst4))
	}
	r, err := Install(testParams(b))
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	t.Cleanup(func() { r.Remove() })

	for _, tc := range []struct {
		name   string
		dialer *net.Dialer
		to     netip.AddrPort
		want   string
	}{
		{"an ordinary IPv4 client lands on the proxy, which sees the original destination", nil, dst4, viaProxy(dst4)},
		{"an ordinary IPv6 client lands on the proxy too", nil, dst6, viaProxy(dst6)},
		{"a socket with the bypass mark reaches the destination directly", BypassDialer(int(DefaultBypassMark)), dst4, direct(dst4)},
		{"a socket with another mark is still redirected", BypassDialer(0x1), dst4, viaProxy(dst4)},
		{"an excluded CIDR is not redirected", nil, excluded4, direct(excluded4)},
		{"an excluded port is not redirected", nil, exclPort4, direct(exclPort4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.fetch(t, tc.dialer, tc.to); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	if err := r.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if ok, err := Installed(b.wl.Path()); err != nil || ok {
		t.Fatalf("after Remove: Installed = %v, %v; want false", ok, err)
	}
	if got := b.fetch(t, nil, dst4); got != direct(dst4) {
		t.Errorf("after Remove: got %q, want a direct answer %q", got, direct(dst4))
	}
	if err := r.Remove(); err != nil {
		t.Errorf("a second Remove: %v; want nil (already gone)", err)
	}
}

// A sidecar may listen once on all addresses (dual stack); IPv4 clients then arrive v4-mapped on an
// IPv6 socket, and OriginalDst must still ask the IPv4 conntrack.
func TestOriginalDstOnADualStackListener(t *testing.T) {
	b := newBedWithProxyOn(t, fmt.Sprintf(":%d", testProxyPort))
	r, err := Install(testParams(b))
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	t.Cleanup(func() { r.Remove() })
	for _, to := range []netip.AddrPort{dst4, dst6} {
		t.Run(to.String(), func(t *testing.T) {
			if got := b.fetch(t, nil, to); got != viaProxy(to) {
				t.Errorf("got %q, want %q", got, viaProxy(to))
			}
		})
	}
}

func TestInstallReplacesAStaleTable(t *testing.T) {
	b := newBed(t)
	conn, closeNS, err := connect(b.wl.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer closeNS()
	// A crashed run's leftovers: our table name with a chain we would never write, plus a foreign
	// table that must survive everything.
	stale := conn.AddTable(&nftables.Table{Name: TableName, Family: nftables.TableFamilyINet})
	conn.AddChain(&nftables.Chain{Name: "leftover", Table: stale})
	conn.AddTable(&nftables.Table{Name: "someone-else", Family: nftables.TableFamilyINet})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}

	p := testParams(b)
	if _, err := Install(p); err != nil {
		t.Fatalf("Install over a stale table: %v", err)
	}
	r, err := Install(p)
	if err != nil {
		t.Fatalf("Install a second time: %v", err)
	}

	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, c := range chains {
		if c.Table.Name == TableName {
			ours = append(ours, c.Name)
		}
	}
	if len(ours) != 1 || ours[0] != chainName {
		t.Errorf("chains in table %s = %v, want only [%s]", TableName, ours, chainName)
	}
	rules, err := conn.GetRules(&nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}, &nftables.Chain{Name: chainName})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(ruleset(mustDefaults(t, p))); len(rules) != want {
		t.Errorf("rules after two Installs = %d, want %d (no duplicates)", len(rules), want)
	}
	if got := b.fetch(t, nil, dst4); got != viaProxy(dst4) {
		t.Errorf("after two Installs: got %q, want %q", got, viaProxy(dst4))
	}

	if err := r.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Name)
	}
	if len(names) != 1 || names[0] != "someone-else" {
		t.Errorf("tables after Remove = %v, want only [someone-else]", names)
	}
}

func mustDefaults(t *testing.T, p Params) Params {
	t.Helper()
	p, err := p.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
