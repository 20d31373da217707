package cli

import (
	"strings"
	"testing"
)

// check shows which claim on an overlapping host:port wins and why, and validate warns naming both objects.
func TestCheckShowsOverlappingClaims(t *testing.T) {
	const in = "../translate/testdata/overlaps.in.yaml"
	tests := []struct {
		name, to string
		code     int
		lines    []string
	}{
		{
			name: "the portMatch claimed directly by another namespace goes through the gateway",
			to:   "http://api.example.com/", code: ExitDenied,
			lines: []string{"decision: DENY (Denied)\n",
				"overlap:  ExternalService evil/api also claims api.example.com:80 directly; the gateway route of shop/api wins\n"},
		},
		{
			name: "the routed service port claimed directly is refused",
			to:   "https://api.example.com/", code: ExitDenied,
			lines: []string{"decision: DENY (NotInRegistry)\n",
				"overlap:  ExternalService evil/api also claims api.example.com:443 directly; refused, because ExternalService shop/api routes api.example.com through egress gateways (called on port 80), so port 443 is never dialled directly\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", "check", "-f", in, "--from", "spiffe://cluster1/ns/bookinfo/sa/reviews", "--to", tt.to)
			for _, l := range tt.lines {
				if code != tt.code || !strings.Contains(out, l) {
					t.Errorf("exit %d, want %d; output:\n%s%s\nwant a line:\n%s", code, tt.code, out, errs, l)
				}
			}
		})
	}
	_, out, errs := run(t, "", "validate", "-f", in)
	if want := "warning: ExternalService evil/api: spec.ports[0]: overlaps ExternalService shop/api"; !strings.Contains(out+errs, want) {
		t.Errorf("validate does not warn %q:\n%s%s", want, out, errs)
	}
}
