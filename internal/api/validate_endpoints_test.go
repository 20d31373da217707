package api

import (
	"strings"
	"testing"
)

func ee(annotations, address string) string {
	return "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalEndpoint\nmetadata: {name: e, namespace: web" + annotations + "}\nspec:\n  address: " + address + "\n"
}

func TestValidateEndpointAddresses(t *testing.T) {
	const optIn = ", annotations: {egret.dev/allow-link-local: \"true\"}"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"a public address is fine", ee("", "203.0.113.7"), nil},
		{"a host name is left to the proxies' SSRF guard", ee("", "api.example.com"), nil},
		{
			name: "the cloud metadata address is refused without the opt-in, naming the range",
			yaml: ee("", "169.254.169.254"),
			want: []string{`v.yaml:5: ExternalEndpoint web/e: spec.address: 169.254.169.254 is in 169.254.169.254/32 (cloud metadata); proxies refuse to dial it unless the ExternalEndpoint has the annotation egret.dev/allow-link-local: "true"`},
		},
		{
			name: "a link-local IPv4 address is refused without the opt-in",
			yaml: ee("", "169.254.10.1"),
			want: []string{`v.yaml:5: ExternalEndpoint web/e: spec.address: 169.254.10.1 is in 169.254.0.0/16 (link-local); proxies refuse to dial it unless the ExternalEndpoint has the annotation egret.dev/allow-link-local: "true"`},
		},
		{
			name: "a link-local IPv6 address is refused without the opt-in",
			yaml: ee("", "'fe80::1'"),
			want: []string{`v.yaml:5: ExternalEndpoint web/e: spec.address: fe80::1 is in fe80::/10 (link-local); proxies refuse to dial it unless the ExternalEndpoint has the annotation egret.dev/allow-link-local: "true"`},
		},
		{
			name: "AWS's IPv6 metadata address is refused without the opt-in",
			yaml: ee("", "'fd00:ec2::254'"),
			want: []string{`v.yaml:5: ExternalEndpoint web/e: spec.address: fd00:ec2::254 is in fd00:ec2::254/128 (cloud metadata); proxies refuse to dial it unless the ExternalEndpoint has the annotation egret.dev/allow-link-local: "true"`},
		},
		{
			name: "the metadata address smuggled in an IPv4-mapped IPv6 address is refused too",
			yaml: ee("", "'::ffff:169.254.169.254'"),
			want: []string{`v.yaml:5: ExternalEndpoint web/e: spec.address: ::ffff:169.254.169.254 is in 169.254.169.254/32 (cloud metadata); proxies refuse to dial it unless the ExternalEndpoint has the annotation egret.dev/allow-link-local: "true"`},
		},
		{"the opt-in lets a link-local address through", ee(optIn, "169.254.169.254"), nil},
		{
			name: "an opt-in that is not true or false is an error",
			yaml: ee(", annotations: {egret.dev/allow-link-local: \"yes\"}", "169.254.169.254"),
			want: []string{
				`v.yaml:3: ExternalEndpoint web/e: metadata.annotations.egret.dev/allow-link-local: must be "true" or "false", not "yes"`,
				`v.yaml:5: ExternalEndpoint web/e: spec.address: 169.254.169.254 is in 169.254.169.254/32 (cloud metadata); proxies refuse to dial it unless the ExternalEndpoint has the annotation egret.dev/allow-link-local: "true"`,
			},
		},
		{
			name: "loopback is noted, naming the range",
			yaml: ee("", "127.0.0.1"),
			want: []string{`v.yaml:5: warning: ExternalEndpoint web/e: spec.address: 127.0.0.1 is in 127.0.0.0/8 (loopback); it is dialled as declared, from the gateway's and sidecars' network`},
		},
		{
			name: "a private address is noted, naming the range",
			yaml: ee("", "10.1.2.3"),
			want: []string{`v.yaml:5: warning: ExternalEndpoint web/e: spec.address: 10.1.2.3 is in 10.0.0.0/8 (private); it is dialled as declared, from the gateway's and sidecars' network`},
		},
		{
			name: "a private IPv6 address is noted, naming the range",
			yaml: ee("", "'fd12::1'"),
			want: []string{`v.yaml:5: warning: ExternalEndpoint web/e: spec.address: fd12::1 is in fc00::/7 (private); it is dialled as declared, from the gateway's and sidecars' network`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := validate(t, tc.yaml)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
