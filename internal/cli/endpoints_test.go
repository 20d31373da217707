package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// partnerEndpoints: a directly called service reached through two ExternalEndpoints on the port named
// "tls", and one whose selector matches nothing (documentation addresses: nothing is dialled).
const partnerEndpoints = `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: partner, namespace: bookinfo}
spec:
  hosts: [api.partner.example]
  selector: {partner: api}
  ports:
  - {name: tls, number: 443, protocol: TLS, targetPort: {name: tls}}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: a, namespace: bookinfo, labels: {partner: api}}
spec:
  address: 203.0.113.1
  ports: [{name: tls, number: 8443}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: b, namespace: bookinfo, labels: {partner: api}}
spec:
  address: 203.0.113.2
  ports: [{name: tls, number: 9443}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: orphan, namespace: bookinfo}
spec:
  hosts: [orphan.partner.example]
  selector: {partner: nobody}
  ports:
  - {name: tls, number: 443, protocol: TLS}
`

func TestCheckAndGetShowTheEndpoints(t *testing.T) {
	extra := filepath.Join(t.TempDir(), "partner.yaml")
	if err := os.WriteFile(extra, []byte(partnerEndpoints), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string // every line must appear in the output
	}{
		{
			name: "check lists the endpoints a call is dialled to",
			args: []string{"check", "-f", example, "-f", extra, "--from-workload", "bookinfo/productpage", "--to", "api.partner.example:443"},
			code: ExitOK,
			out: `decision: ALLOW (Direct)
upstream: api.partner.example:443
endpoints: 203.0.113.1:8443, 203.0.113.2:9443
`,
		},
		{
			name: "check says a service selecting no endpoint answers 503, and why",
			args: []string{"check", "-f", example, "-f", extra, "--from-workload", "bookinfo/productpage", "--to", "http://orphan.partner.example:443/"},
			code: ExitDenied,
			out: `decision: DENY (NoEndpoints)
reason:   ExternalService bookinfo/orphan selects no ExternalEndpoint (selector partner=nobody)
answer:   503
endpoints: none (the service selects ExternalEndpoints and none serves this port)
`,
		},
		{
			name: "get routes shows the endpoints of each service port",
			args: []string{"get", "routes", "-f", example, "-f", extra},
			code: ExitOK,
			out: `api.partner.example:443 → direct → api.partner.example:443 endpoints=203.0.113.1:8443,203.0.113.2:9443
orphan.partner.example:443 → direct → orphan.partner.example:443 endpoints=none (calls get 503)
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			for _, l := range strings.Split(strings.TrimSpace(tt.out), "\n") {
				if !strings.Contains(out, l) {
					t.Errorf("no line %q in:\n%s", l, out)
				}
			}
		})
	}
}
