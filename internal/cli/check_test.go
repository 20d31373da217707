package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/ir"
)

func TestCheckSeedScenario(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{
			name: "reviews is denied with RBAC: access denied",
			args: []string{"--from-workload", "bookinfo/reviews", "--to", "http://www.google.com/"},
			code: ExitDenied,
			out: `decision: DENY (Denied)
request:  GET www.google.com:80/ from spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews in cluster1
reason:   no rule of AccessPolicy bookinfo/egress-access-productpage allows spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews
policy:   bookinfo/egress-access-productpage
service:  ExternalService bookinfo/google port 443
answer:   403 RBAC: access denied
`,
		},
		{
			name: "productpage goes through cluster1's gateway first to www.google.com:443 with SIMPLE TLS",
			args: []string{"--from-workload", "bookinfo/productpage", "--to", "http://www.google.com/"},
			code: ExitOK,
			out: `decision: ALLOW (Routed)
request:  GET www.google.com:80/ from spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage in cluster1
reason:   AccessPolicy bookinfo/egress-access-productpage allows spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage to ExternalService bookinfo/google port 443
policy:   bookinfo/egress-access-productpage
service:  ExternalService bookinfo/google port 443
gateway:  cluster1/gloo-mesh-gateways/istio-egressgateway (listener 443→8443)
gateway:  cluster2/gloo-mesh-gateways/istio-egressgateway (listener 443→8443)
upstream: www.google.com:443
tls:      SIMPLE sni=www.google.com
`,
		},
		{
			name: "a SPIFFE ID from cluster2 prefers cluster2's gateway",
			args: []string{"--from", "spiffe://cluster2/ns/bookinfo/sa/bookinfo-productpage", "--to", "www.google.com:80", "--method", "post", "--path", "/search"},
			code: ExitOK,
			out: `decision: ALLOW (Routed)
request:  POST www.google.com:80/search from spiffe://cluster2/ns/bookinfo/sa/bookinfo-productpage in cluster2
reason:   AccessPolicy bookinfo/egress-access-productpage allows spiffe://cluster2/ns/bookinfo/sa/bookinfo-productpage to ExternalService bookinfo/google port 443
policy:   bookinfo/egress-access-productpage
service:  ExternalService bookinfo/google port 443
gateway:  cluster2/gloo-mesh-gateways/istio-egressgateway (listener 443→8443)
gateway:  cluster1/gloo-mesh-gateways/istio-egressgateway (listener 443→8443)
upstream: www.google.com:443
tls:      SIMPLE sni=www.google.com
`,
		},
		{
			name: "an unknown host is not in the registry",
			args: []string{"--from-workload", "bookinfo/productpage", "--to", "http://www.example.org/"},
			code: ExitDenied,
			out: `decision: DENY (NotInRegistry)
request:  GET www.example.org:80/ from spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage in cluster1
reason:   www.example.org:80 is not in the registry (outboundTrafficPolicy REGISTRY_ONLY)
answer:   502 (empty body)
`,
		},
		{
			name: "https to the host itself is an opaque stream not in the registry, so it cannot bypass the gateway",
			args: []string{"--from-workload", "bookinfo/productpage", "--to", "https://www.google.com/"},
			code: ExitDenied,
			out: `decision: DENY (NotInRegistry)
request:  TLS/TCP www.google.com:443 from spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage in cluster1
reason:   www.google.com:443 is not in the registry (the host is, on other ports) (outboundTrafficPolicy REGISTRY_ONLY)
answer:   connection closed
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", append([]string{"check", "-f", example}, tt.args...)...)
			if code != tt.code || out != tt.out {
				t.Errorf("exit %d, want %d\n--- got:\n%s--- want:\n%s--- stderr:\n%s", code, tt.code, out, tt.out, errs)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, errs := run(t, "", "check", "-f", example, "--from-workload", "bookinfo/productpage", "--to", "http://www.google.com/", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var d ir.Decision
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !d.Allow || d.Kind != ir.KindRouted || d.Upstream != "www.google.com:443" || d.TLSMode != "SIMPLE" || d.SNI != "www.google.com" ||
		len(d.Targets) != 2 || d.Targets[0].Cluster != "cluster1" {
		t.Fatalf("unexpected decision %+v", d)
	}
}

func TestCheckErrors(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	b, err := os.ReadFile(filepath.Join(example, "03-external-service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, bytes.Replace(b, []byte("portMatch: 80"), []byte("portMatch: 0x"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // a line standard error must contain
	}{
		{name: "invalid input exits 1 with the problem",
			args: []string{"check", "-f", broken, "--from-workload", "bookinfo/reviews", "--to", "http://www.google.com/"},
			code: ExitError, stderr: "broken.yaml:"},
		{name: "an unknown workload exits 1",
			args: []string{"check", "-f", example, "--from-workload", "bookinfo/nobody", "--to", "http://www.google.com/"},
			code: ExitError, stderr: "egret: --from-workload: no Workload bookinfo/nobody in the input"},
		{name: "a bad SPIFFE ID is a usage error",
			args: []string{"check", "-f", example, "--from", "bookinfo/reviews", "--to", "http://www.google.com/"},
			code: ExitUsage, stderr: `egret: --from: SPIFFE ID "bookinfo/reviews": must start with spiffe://`},
		{name: "a destination without a port is a usage error",
			args: []string{"check", "-f", example, "--from-workload", "bookinfo/reviews", "--to", "www.google.com"},
			code: ExitUsage, stderr: `egret: --to: "www.google.com": want a URL or host:port`},
		{name: "an unsupported scheme is a usage error",
			args: []string{"check", "-f", example, "--from-workload", "bookinfo/reviews", "--to", "ftp://www.google.com/"},
			code: ExitUsage, stderr: `egret: --to: scheme "ftp": want http or https (or give host:port)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.stderr) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant a line containing %q; stdout:\n%s", code, tt.code, errs, tt.stderr, out)
			}
		})
	}
}
