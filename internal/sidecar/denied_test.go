package sidecar_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// tunnelPolicy lets only the product page through the *.example.com tunnel service.
const tunnelPolicy = `apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata: {name: example-productpage, namespace: bookinfo}
spec:
  applyToDestinations:
  - kind: EXTERNAL_SERVICE
    selector: {name: example, namespace: bookinfo, cluster: cluster1}
  config:
    authz:
      allowedClients:
      - serviceAccountSelector: {name: bookinfo-productpage}
`

// A call the sidecar lets through and its gateway refuses was logged by the sidecar as "allow" (and a
// refused CONNECT answered 503 UF): the sidecar's line now says deny, denied by the gateway, with the
// gateway's policy, and a refused CONNECT is answered 403 by both.
func TestACallTheGatewayDeniesIsLoggedAsTheGatewaysDenial(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "*.example.com", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hi %s", r.Host) })
	resources := []string{meshtest.TunnelResources, tunnelPolicy}
	g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, resources...), ext, func(p *gateway.Params) {
		p.PortOverrides[meshtest.TunnelTargetPort] = 0
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{"api.example.com:443": ext.Addr()}})
	})
	addrs := tunnelGatewayAddrs(g.GW)
	tests := []struct {
		name   string
		url    string
		policy string
	}{
		{"an HTTP request", "http://www.google.com/", "bookinfo/egress-access-productpage"},
		{"a CONNECT tunnel", "https://api.example.com/", "bookinfo/example-productpage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "reviews", addrs, resources...))
			c := viaProxy(sc.addr)
			c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: ext.Roots()}
			resp, err := c.Get(tc.url)
			if strings.HasPrefix(tc.url, "https") {
				// Go's client reports a refused CONNECT as an error naming the status.
				if err == nil || !strings.Contains(err.Error(), "Forbidden") {
					t.Fatalf("CONNECT: %v, want a 403 refusal", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 403 || string(body) != "RBAC: access denied" {
					t.Fatalf("got %d %q, want 403 RBAC: access denied", resp.StatusCode, body)
				}
				if v := resp.Header.Get(accesslog.HeaderGatewayDenied); v != "" {
					t.Errorf("the workload was told the policy: %s: %s", accesslog.HeaderGatewayDenied, v)
				}
			}
			l := lines(t, sc.log)
			if len(l) != 1 {
				t.Fatalf("%d sidecar log lines, want 1", len(l))
			}
			want := map[string]any{"decision": "deny", "denied_by": "gateway", "policy": tc.policy,
				"response_flags": "RBAC", "response_code": 403.0, "upstream_cluster": gw1}
			for k, v := range want {
				if l[0][k] != v {
					t.Errorf("sidecar logged %s %v, want %v: %v", k, l[0][k], v, l[0])
				}
			}
			var gl map[string]any
			for _, e := range lines(t, g.Log) {
				if e["source_identity"] == meshtest.Reviews && e["authority"] == l[0]["authority"] {
					gl = e
				}
			}
			if gl == nil || gl["response_code"] != 403.0 || gl["decision"] != "deny" || gl["policy"] != tc.policy {
				t.Errorf("gateway logged %v, want 403 deny by %s", gl, tc.policy)
			}
			noDuplicateKeys(t, sc.log, sc.slog, g.Log)
		})
	}
}

// A host cannot make the sidecar log its own 403 as the gateway's denial by sending the gateway's
// header: the gateway drops it from what it relays.
func TestAHostCannotForgeTheGatewaysDenial(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(accesslog.HeaderGatewayDenied, "bookinfo/forged")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "RBAC: access denied")
	})
	g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", map[string]string{gw1: g.Addr}))
	resp, err := viaProxy(sc.addr).Get("http://www.google.com/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get(accesslog.HeaderGatewayDenied) != "" {
		t.Fatalf("got %d with %q, want the host's 403 without the gateway's header", resp.StatusCode, resp.Header.Get(accesslog.HeaderGatewayDenied))
	}
	l := lines(t, sc.log)
	if l[0]["decision"] != "allow" || l[0]["denied_by"] != nil || l[0]["policy"] == "bookinfo/forged" {
		t.Errorf("the host's 403 was logged as a denial: %v", l[0])
	}
}
