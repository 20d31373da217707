package resolve

import (
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr string
		want string // "" = not refused
	}{
		{"93.184.216.34", ""},
		{"2606:2800:220:1::1", ""},
		{"8.8.8.8", ""},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"127.1.2.3", "loopback"},
		{"::1", "loopback"},
		{"10.255.255.255", "private"},
		{"172.31.0.1", "private"},
		{"172.32.0.1", ""},
		{"192.168.0.1", "private"},
		{"fc00::1", "private"},
		{"169.254.169.254", "cloud metadata"},
		{"fd00:ec2::254", "cloud metadata"},
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"100.64.0.1", "CGNAT"},
		{"100.128.0.1", ""},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"::ffff:93.184.216.34", ""},
		{"::10.0.0.1", "private (embedded in NAT64/IPv4-compatible)"},
		{"64:ff9b::7f00:1", "loopback (embedded in NAT64/IPv4-compatible)"},
		{"64:ff9b::5db8:d822", ""},
		{"2002:a9fe:a9fe::1", "cloud metadata (embedded in 6to4)"},
		{"2002:5db8:d822::1", ""},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"64:ff9b:1::1", "NAT64 local-use"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			name, prefix, refused := Classify(netip.MustParseAddr(tt.addr))
			if refused != (tt.want != "") || name != tt.want {
				t.Errorf("Classify(%s) = %q %v %v, want %q", tt.addr, name, prefix, refused, tt.want)
			}
		})
	}
}

// FuzzClassify: an IPv4 address and its IPv4-mapped and NAT64 forms are
// always judged alike, so no encoding slips a private address through.
func FuzzClassify(f *testing.F) {
	for _, s := range [][4]byte{{10, 0, 0, 1}, {169, 254, 169, 254}, {93, 184, 216, 34}, {127, 0, 0, 1}, {100, 64, 0, 1}} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, a, b, c, d byte) {
		v4 := netip.AddrFrom4([4]byte{a, b, c, d})
		_, _, want := Classify(v4)
		mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: a, 13: b, 14: c, 15: d})
		nat := netip.AddrFrom16([16]byte{0: 0, 1: 0x64, 2: 0xff, 3: 0x9b, 12: a, 13: b, 14: c, 15: d})
		sixto4 := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: a, 3: b, 4: c, 5: d})
		for _, form := range []netip.Addr{mapped, nat, sixto4} {
			if _, _, got := Classify(form); got != want {
				t.Fatalf("%s refused=%v but %s refused=%v", v4, want, form, got)
			}
		}
	})
}
