package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// routeTableInput is the example plus a RouteTable on a new host and a RetryTimeoutPolicy egret does
// not implement.
func routeTableInput(t *testing.T) string {
	t.Helper()
	return meshtest.CopyExample(t, map[string]string{"09-route-table.yaml": `apiVersion: networking.gloo.solo.io/v2
kind: RouteTable
metadata: {name: api, namespace: bookinfo}
spec:
  hosts: [api.example.com]
  http:
  - name: split
    matchers: [{uri: {prefix: /s}}]
    forwardTo:
      destinations:
      - {kind: EXTERNAL_SERVICE, ref: {name: google}, port: {number: 443}, weight: 30}
      - {kind: EXTERNAL_SERVICE, ref: {name: google}, port: {number: 443}}
---
apiVersion: resilience.policy.gloo.solo.io/v2
kind: RetryTimeoutPolicy
metadata: {name: retry, namespace: bookinfo}
spec: {config: {retries: {attempts: 3}}}
`})
}

func TestCheckShowsTheRouteTableAndRunsDespiteAnUnsupportedKind(t *testing.T) {
	dir := routeTableInput(t)
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{
			name: "a matched route names the table, the rewrite and the split",
			args: []string{"--from-workload", "bookinfo/productpage", "--to", "http://api.example.com/s/1"},
			code: ExitOK,
			out: `decision: ALLOW (Routed)
request:  GET api.example.com:80/s/1 from spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage in cluster1
reason:   AccessPolicy bookinfo/egress-access-productpage allows spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage to ExternalService bookinfo/google port 443
route:    RouteTable bookinfo/api route[0] split
routed:   api.example.com:80 → www.google.com:80
split:    bookinfo/google:443 30%, bookinfo/google:443 70% (this request's pick shown; each request picks anew)
policy:   bookinfo/egress-access-productpage
service:  ExternalService bookinfo/google port 443
gateway:  cluster1/gloo-mesh-gateways/istio-egressgateway (listener 443→8443)
gateway:  cluster2/gloo-mesh-gateways/istio-egressgateway (listener 443→8443)
upstream: www.google.com:443
tls:      SIMPLE sni=www.google.com
`,
		},
		{
			name: "no matching route is a 404",
			args: []string{"--from-workload", "bookinfo/productpage", "--to", "http://api.example.com/other"},
			code: ExitDenied,
			out: `decision: DENY (RouteNotFound)
request:  GET api.example.com:80/other from spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage in cluster1
reason:   RouteTable bookinfo/api claims api.example.com and none of its routes matches the request (Gloo answers 404)
route:    RouteTable bookinfo/api
answer:   404
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", append([]string{"check", "-f", dir}, tt.args...)...)
			if code != tt.code || out != tt.out {
				t.Errorf("exit %d, want %d\n--- got:\n%s--- want:\n%s--- stderr:\n%s", code, tt.code, out, tt.out, errs)
			}
			if !strings.Contains(errs, "09-route-table.yaml:15: RetryTimeoutPolicy bookinfo/retry: kind: egret does not implement RetryTimeoutPolicy") {
				t.Errorf("the unsupported kind is not reported on itself:\n%s", errs)
			}
		})
	}
}

func TestValidateFailsOnAnUnsupportedKindWhileGetRuns(t *testing.T) {
	dir := routeTableInput(t)
	code, out, _ := run(t, "", "validate", "-f", dir)
	if code != ExitError || !strings.Contains(out, "RetryTimeoutPolicy bookinfo/retry: kind: egret does not implement") {
		t.Errorf("validate: exit %d, want %d:\n%s", code, ExitError, out)
	}
	code, out, errs := run(t, "", "get", "routes", "-f", dir)
	want := "api.example.com /s* [sidecars of every workload] → RouteTable bookinfo/api route[0] split → bookinfo/google:443 (30%), bookinfo/google:443 (70%)\n"
	if code != ExitOK || !strings.HasSuffix(out, want) {
		t.Errorf("get routes: exit %d\n%s\nstderr:\n%s", code, out, errs)
	}
	// An unknown kind is different: egret cannot tell what it would have meant, so check refuses.
	if err := os.WriteFile(filepath.Join(dir, "10-unknown.yaml"), []byte("apiVersion: example.com/v1\nkind: Frobnicator\nmetadata: {name: f}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "", "get", "routes", "-f", dir); code != ExitError || !strings.Contains(errs, `unknown kind "Frobnicator"`) {
		t.Errorf("get with an unknown kind: exit %d\n%s", code, errs)
	}
}
