package intercept

import (
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Offsets of the destination address in the IPv4 and IPv6 headers, and of the destination port in TCP.
const (
	ipv4DaddrOffset = 16
	ipv6DaddrOffset = 24
	tcpDportOffset  = 2
)

var ret = &expr.Verdict{Kind: expr.VerdictReturn}

// markIs matches `meta mark == mark` (the mark is kept in host byte order).
func markIs(mark uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark)},
	}
}

// uidIs matches `meta skuid == uid`.
func uidIs(uid uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeySKUID, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uid)},
	}
}

// notTCP matches `meta l4proto != tcp`.
func notTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

// daddrIn matches `ip daddr PREFIX` or `ip6 daddr PREFIX`; in an inet table the family must be
// checked first, or an IPv6 header would be read at IPv4 offsets.
func daddrIn(p netip.Prefix) []expr.Any {
	family, offset := byte(unix.NFPROTO_IPV4), uint32(ipv4DaddrOffset)
	if p.Addr().Is6() {
		family, offset = unix.NFPROTO_IPV6, ipv6DaddrOffset
	}
	addr := p.Addr().AsSlice()
	n := uint32(len(addr))
	exprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n},
	}
	if p.Bits() < p.Addr().BitLen() {
		exprs = append(exprs, &expr.Bitwise{
			SourceRegister: 1, DestRegister: 1, Len: n,
			Mask: prefixMask(p.Bits(), len(addr)), Xor: make([]byte, n),
		})
	}
	return append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr})
}

// prefixMask returns the network mask for a prefix length as size bytes.
func prefixMask(bits, size int) []byte {
	m := make([]byte, size)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return m
}

// dportIs matches `tcp dport PORT` (callers have already returned for non-TCP packets).
func dportIs(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: tcpDportOffset, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// redirectTo is `redirect to :PORT`: for locally generated packets the kernel rewrites the destination
// to 127.0.0.1 or ::1 and records the original in conntrack, where SO_ORIGINAL_DST finds it.
func redirectTo(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.Redir{RegisterProtoMin: 1},
	}
}

// loopback is always excluded: redirecting it would capture the sidecar's own admin traffic and the
// redirected connections themselves.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ruleset lists the chain's rules in order; the first match wins.
func ruleset(p Params) [][]expr.Any {
	rules := [][]expr.Any{append(markIs(p.BypassMark), ret)}
	if p.BypassUID != nil {
		rules = append(rules, append(uidIs(*p.BypassUID), ret))
	}
	rules = append(rules, append(notTCP(), ret))
	for _, c := range append(append([]netip.Prefix{}, loopback...), p.ExcludeCIDRs...) {
		rules = append(rules, append(daddrIn(c), ret))
	}
	for _, port := range p.ExcludePorts {
		rules = append(rules, append(dportIs(port), ret))
	}
	return append(rules, redirectTo(p.ProxyPort))
}
