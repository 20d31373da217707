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
