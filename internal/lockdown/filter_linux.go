package lockdown

import (
	"fmt"
	"net"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// installFilter writes the FilterTable into the namespace at path in one batch:
//
//	table inet egret-lockdown {
//	  chain output { type filter hook output priority 0; policy drop;
//	    oifname "lo" accept                        # loopback
//	    ip daddr 127.0.0.0/8 accept                # the sidecar: the redirect landed on loopback
//	    ip6 daddr ::1 accept
//	    meta l4proto tcp reject with tcp reset     # a direct dial fails at once: connection refused
//	    reject with icmpx admin-prohibited         # UDP, ICMP, ...
//	  }
//	  chain input { type filter hook input priority 0; policy drop;
//	    iifname "lo" accept
//	  }
//	}
//
// The sidecar's nat redirect (intercept's table) runs at dstnat priority, before this chain, so a
// redirected connection leaves through lo and passes; a socket that escapes the redirect (a bypass
// mark, an excluded address) meets the reject. The redirected packet is matched by its rewritten
// destination, not by oifname: the hook's output device stays the one routed before the redirect.
// Nothing with a loopback destination can leave through eth0 (the kernel drops such martians unless
// route_localnet is set, which it is not here).
func installFilter(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("lockdown: open network namespace: %w", err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: FilterTable, Family: nftables.TableFamilyINet}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	drop := nftables.ChainPolicyDrop
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	in := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	for _, r := range []struct {
		chain *nftables.Chain
		exprs []expr.Any
	}{
		{out, []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")}, accept}},
		{out, append(daddrIs(unix.NFPROTO_IPV4, 16, []byte{127, 0, 0, 0}, []byte{255, 0, 0, 0}), accept)},
		{out, append(daddrIs(unix.NFPROTO_IPV6, 24, net.IPv6loopback, nil), accept)},
		{out, []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}},
		{out, []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}}},
		{in, []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")}, accept}},
	} {
		c.AddRule(&nftables.Rule{Table: t, Chain: r.chain, Exprs: r.exprs})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("lockdown: install nftables table inet %s: %w", FilterTable, err)
	}
	return nil
}

// daddrIs matches the destination address (at offset in the network header) of family's packets, under
// mask if one is given.
func daddrIs(family byte, offset uint32, addr, mask []byte) []expr.Any {
	n := uint32(len(addr))
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n},
	}
	if mask != nil {
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr})
}

// ifname is an interface name as nftables compares it: NUL-padded to IFNAMSIZ.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

// TablesIn lists the inet tables in the namespace at path (for tests and diagnostics).
func TablesIn(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		return nil, err
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out, nil
}
