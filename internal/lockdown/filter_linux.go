package lockdown

import (
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// installFilter writes the FilterTable into the namespace at path in one batch:
//
//	table inet egret-lockdown {
//	  chain output { type filter hook output priority 0; policy drop;
//	    oifname "lo" accept                        # the sidecar (the redirect lands on loopback)
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
// mark, an excluded address) meets the reject.
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
