package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"egret.dev/egret/internal/ir"
)

func TestGetTables(t *testing.T) {
	tests := []struct {
		kind string
		out  string
	}{
		{kind: "routes", out: `www.google.com:80 → cluster1/gloo-mesh-gateways/istio-egressgateway (listener 443→8443) → www.google.com:443 SIMPLE sni=www.google.com
www.google.com:80 → cluster2/gloo-mesh-gateways/istio-egressgateway (listener 443→8443) → www.google.com:443 SIMPLE sni=www.google.com
`},
		{kind: "services", out: `NAMESPACE  NAME    CLUSTER  HOSTS           PORTS
bookinfo   google  (all)    www.google.com  https 443/HTTPS via gateway on 80 tls=SIMPLE
`},
		{kind: "policies", out: `NAMESPACE  NAME                       APPLIES TO       RULES
bookinfo   egress-access-productpage  bookinfo/google  clients=sa:bookinfo-productpage
`},
		{kind: "workloads", out: `NAMESPACE  NAME         CLUSTER   SERVICE ACCOUNT       IDENTITY
bookinfo   productpage  cluster1  bookinfo-productpage  spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage
bookinfo   reviews      cluster1  bookinfo-reviews      spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews
`},
		{kind: "gateways", out: `CLUSTER   NAMESPACE           NAME                 REVISION  ACTIVE  IDENTITY                                                        PORTS                             LISTENERS
cluster1  gloo-mesh-gateways  istio-egressgateway  1-25      true    spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway  15021→15021,15443→15443,443→8443  443→8443 ISTIO_MUTUAL HTTPS bookinfo/istio-egressgateway [www.google.com]
cluster2  gloo-mesh-gateways  istio-egressgateway  1-25      true    spiffe://cluster2/ns/gloo-mesh-gateways/sa/istio-egressgateway  15021→15021,15443→15443,443→8443  443→8443 ISTIO_MUTUAL HTTPS bookinfo/istio-egressgateway [www.google.com]
`},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			code, out, errs := run(t, "", "get", tt.kind, "-f", example)
			if code != ExitOK || out != tt.out {
				t.Errorf("exit %d\n--- got:\n%s--- want:\n%s--- stderr:\n%s", code, out, tt.out, errs)
			}
		})
	}
}

func TestGetRoutesAsData(t *testing.T) {
	for _, format := range []string{"json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			code, out, errs := run(t, "", "get", "routes", "-f", example, "-o", format)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var routes []ir.Route
			var err error
			if format == "json" {
				err = json.Unmarshal([]byte(out), &routes)
			} else {
				err = yaml.Unmarshal([]byte(out), &routes)
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(routes) != 1 || routes[0].Host != "www.google.com" || routes[0].PortMatch != 80 || routes[0].Port != 443 || len(routes[0].Targets) != 2 {
				t.Fatalf("unexpected routes %+v", routes)
			}
		})
	}
}

func TestGetFromStdinAndErrors(t *testing.T) {
	t.Run("reads standard input", func(t *testing.T) {
		in := `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: api, namespace: apps}
spec:
  hosts: ["*.example.com"]
  ports: [{name: tls, number: 443, protocol: TLS}]
`
		code, out, errs := run(t, in, "get", "routes", "-f", "-")
		want := "*.example.com:443 → direct → *.example.com:443 passthrough (caller's TLS)\n"
		if code != ExitOK || out != want {
			t.Fatalf("exit %d\n got %q\nwant %q\n%s", code, out, want, errs)
		}
	})
	t.Run("an unknown kind is a usage error", func(t *testing.T) {
		code, _, errs := run(t, "", "get", "things", "-f", example)
		if code != ExitUsage || !strings.Contains(errs, `unknown kind "things"`) {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("an invalid resource exits 1 and names the problem", func(t *testing.T) {
		in := `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: api, namespace: apps}
spec:
  hosts: ["api.example.com"]
  ports: [{name: tls, number: 70000, protocol: TLS}]
`
		code, _, errs := run(t, in, "get", "services", "-f", "-")
		if code != ExitError || !strings.Contains(errs, "<stdin>:6") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}
