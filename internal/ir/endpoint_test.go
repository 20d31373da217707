package ir

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCheckDialRefusesLinkLocalWithoutTheOptIn(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		allow   bool
		refused string // the range named, or "" when the dial may go ahead
	}{
		{"the metadata address", "169.254.169.254", false, "169.254.169.254/32 (cloud metadata)"},
		{"the metadata address mapped into IPv6", "::ffff:169.254.169.254", false, "169.254.169.254/32 (cloud metadata)"},
		{"AWS's IPv6 metadata address", "fd00:ec2::254", false, "fd00:ec2::254/128 (cloud metadata)"},
		{"IPv4 link-local", "169.254.1.2", false, "169.254.0.0/16 (link-local)"},
		{"IPv6 link-local with a zone", "fe80::1%eth0", false, "fe80::/10 (link-local)"},
		{"the metadata address with the opt-in", "169.254.169.254", true, ""},
		{"loopback is the operator's choice", "127.0.0.1", false, ""},
		{"a public address", "203.0.113.1", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := UpstreamEndpoint{Address: "x:1", Endpoint: "ns/e", AllowLinkLocal: tc.allow}
			err := e.CheckDial(netip.MustParseAddr(tc.addr))
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused) || !strings.Contains(err.Error(), AnnotationAllowLinkLocal)):
				t.Fatalf("err = %v, want a refusal naming %s and the annotation", err, tc.refused)
			}
		})
	}
}
