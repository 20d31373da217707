package report

import (
	"testing"

	"egret.dev/egret/internal/ir"
)

func TestMatchersReadInShortForm(t *testing.T) {
	tests := []struct {
		name string
		ms   []ir.RouteMatcher
		want string
	}{
		{name: "no matcher matches anything", want: "*"},
		{name: "a method and a prefix", ms: []ir.RouteMatcher{{Method: "GET", Prefix: "/a"}}, want: "GET /a*"},
		{name: "a regex in any case on a port", ms: []ir.RouteMatcher{{Regex: "/v[0-9]", IgnoreCase: true, Port: 80}}, want: "~/v[0-9] (any case) port 80"},
		{name: "headers present, equal, matching and inverted", ms: []ir.RouteMatcher{{Headers: []ir.RouteHeader{
			{Name: "x-a"}, {Name: "x-b", Value: "1"}, {Name: "x-c", Value: "a.*", Regex: true}, {Name: "x-d", Value: "2", Invert: true},
		}}}, want: "x-a present x-b=1 x-c~a.* not x-d=2"},
		{name: "several matchers are alternatives", ms: []ir.RouteMatcher{{Exact: "/a"}, {}}, want: "/a | *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchText(tt.ms); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTLSSaysWhoEncrypts(t *testing.T) {
	tests := []struct {
		name string
		sp   *ir.ServicePort
		host ir.HostPattern
		want string
	}{
		{name: "origination names its SNI", sp: &ir.ServicePort{TLS: &ir.Origination{Mode: "SIMPLE"}}, host: "www.google.com", want: "SIMPLE sni=www.google.com"},
		{name: "a wildcard host's SNI is the requested host", sp: &ir.ServicePort{TLS: &ir.Origination{Mode: "SIMPLE"}}, host: "*.google.com", want: "SIMPLE sni=<requested host>"},
		{name: "an HTTPS port without origination is the caller's TLS", sp: &ir.ServicePort{Protocol: "HTTPS"}, host: "a.test", want: "passthrough (caller's TLS)"},
		{name: "an HTTP port is plaintext", sp: &ir.ServicePort{Protocol: "HTTP"}, host: "a.test", want: "plaintext"},
		{name: "an unknown port is plaintext", host: "a.test", want: "plaintext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tlsText(tt.sp, tt.host); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRulesReadAsConditions(t *testing.T) {
	tests := []struct {
		name string
		r    ir.Rule
		want string
	}{
		{name: "an empty rule allows any caller", want: "any caller"},
		{name: "clients, methods and paths", r: ir.Rule{Clients: []ir.ClientMatch{{Namespace: "bookinfo", ServiceAccount: "pp"}}, Methods: []string{"GET"}, Paths: []string{"/a"}},
			want: "clients=ns:bookinfo/sa:pp methods=GET paths=/a"},
		{name: "an unsupported condition never matches", r: ir.Rule{Never: "ipBlocks"}, want: "never (ipBlocks)"},
		{name: "dry run", r: ir.Rule{DryRun: true}, want: "dry-run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ruleText(tt.r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
