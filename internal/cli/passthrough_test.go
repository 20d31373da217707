package cli

import (
	"strings"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// ports adds, beside the seed example: *.example.com:443 (TLS the caller originates, through the
// gateway's tunnel listener), a TLS port reached directly, and a plain HTTP port reached directly.
const ports = meshtest.TunnelResources + `---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: db, namespace: bookinfo}
spec:
  hosts: [db.example.net]
  ports: [{name: tls, number: 5432, protocol: TLS}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: plain, namespace: bookinfo}
spec:
  hosts: [plain.example.net]
  ports: [{name: http, number: 8080, protocol: HTTP}]
`

// A TLS or HTTPS port that no proxy originates TLS for carries the caller's own TLS end to end: `check`
// and `get routes` call it passthrough, never plaintext, which would tell an auditor the opposite.
func TestPassthroughPortsAreNotCalledPlaintext(t *testing.T) {
	dir := meshtest.CopyExample(t, map[string]string{"09-ports.yaml": ports})
	t.Run("get routes", func(t *testing.T) {
		code, out, errs := run(t, "", "get", "routes", "-f", dir)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		for _, want := range []string{
			"*.example.com:443 → cluster1/gloo-mesh-gateways/istio-egressgateway (listener 15443→15443) → *.example.com:443 passthrough (caller's TLS)\n",
			"db.example.net:5432 → direct → db.example.net:5432 passthrough (caller's TLS)\n",
			"plain.example.net:8080 → direct → plain.example.net:8080 plaintext\n",
			"www.google.com:80 → cluster1/gloo-mesh-gateways/istio-egressgateway (listener 443→8443) → www.google.com:443 SIMPLE sni=www.google.com\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("get routes lacks %q:\n%s", want, out)
			}
		}
	})
	tests := []struct {
		name, to, tls string
	}{
		{"a CONNECT through the gateway's tunnel listener", "https://api.example.com/", "tls:      passthrough (the caller's own TLS, end to end to the upstream)\n"},
		{"a direct TLS port", "db.example.net:5432", "tls:      passthrough (the caller's own TLS, end to end to the upstream)\n"},
		{"a direct plain HTTP port", "http://plain.example.net:8080/", "tls:      none (plaintext to the upstream)\n"},
	}
	for _, tc := range tests {
		t.Run("check "+tc.name, func(t *testing.T) {
			code, out, errs := run(t, "", "check", "-f", dir, "--from-workload", "bookinfo/productpage", "--to", tc.to)
			if code != ExitOK || !strings.Contains(out, tc.tls) {
				t.Errorf("exit %d, want a line %q in:\n%s%s", code, tc.tls, out, errs)
			}
		})
	}
}
