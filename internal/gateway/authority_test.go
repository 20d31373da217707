package gateway

import (
	"strings"
	"testing"
)

func TestSplitAuthority(t *testing.T) {
	tests := []struct {
		in       string
		host     string
		port     uint32
		wantFail bool
	}{
		{in: "www.google.com", host: "www.google.com", port: 80},
		{in: "WWW.Google.com:443", host: "www.google.com", port: 443},
		{in: "[::1]:8443", host: "::1", port: 8443},
		{in: "", wantFail: true},
		{in: "a:0", wantFail: true},
		{in: "a:70000", wantFail: true},
		{in: "a:b:c", wantFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			h, p, err := splitAuthority(tc.in, 80)
			if (err != nil) != tc.wantFail || (!tc.wantFail && (h != tc.host || p != tc.port)) {
				t.Errorf("splitAuthority(%q) = %q, %d, %v", tc.in, h, p, err)
			}
		})
	}
}

// FuzzSplitAuthority checks the CONNECT and :authority parsing: never a panic, never a port outside
// 1-65535, and a host that is lower case.
func FuzzSplitAuthority(f *testing.F) {
	for _, s := range []string{"www.google.com:443", "[::1]:80", "a", ":", "[", "a:65536", "xn--bcher-kva.example:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, p, err := splitAuthority(s, 80)
		if err != nil {
			return
		}
		if p == 0 || p > 65535 {
			t.Fatalf("port %d from %q", p, s)
		}
		if h != strings.ToLower(h) {
			t.Fatalf("host %q not lower case", h)
		}
	})
}
