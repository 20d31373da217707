package sidecar_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// directPartner: services called directly (no egress route) whose traffic goes to the ExternalEndpoints
// labelled partner=api, on the endpoint port named "tls", and one whose selector matches nothing.
func directPartner(caFile string, endpoints ...string) []string {
	return append([]string{`apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: api, namespace: bookinfo}
spec:
  hosts: [api.partner.test]
  selector: {partner: api}
  ports:
  - name: http
    number: 80
    protocol: HTTP
    targetPort: {name: tls}
    clientsideTls: {caCertificates: ` + caFile + `}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: tunnel, namespace: bookinfo}
spec:
  hosts: [tunnel.partner.test]
  selector: {partner: api}
  ports:
  - {name: tls, number: 443, protocol: TLS, targetPort: {name: tls}}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: orphan, namespace: bookinfo}
spec:
  hosts: [orphan.partner.test]
  selector: {partner: nobody}
  ports:
  - {name: http, number: 80, protocol: HTTP}
`}, endpoints...)
}

func endpointAt(name, addr string) string {
	ap := netip.MustParseAddrPort(addr)
	return fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: %s, namespace: bookinfo, labels: {partner: api}}
spec:
  address: %s
  ports: [{name: http, number: 9}, {name: tls, number: %d}]
`, name, ap.Addr(), ap.Port())
}

func TestTheDirectPathGoesToExternalEndpointsOnANamedPort(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "*.partner.test", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v host=%s", r.TLS != nil, r.Host)
	})
	// The first endpoint refuses connections: every call must fail over to the live one.
	resources := directPartner(ext.CAFile, endpointAt("dead", meshtest.ClosedAddr(t)), endpointAt("live", ext.Addr()))
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", nil, resources...))

	t.Run("HTTP, with TLS originated by the sidecar to the endpoint and the host as SNI", func(t *testing.T) {
		for i := range 3 {
			status, body, err := get(t, viaProxy(sc.addr), "http://api.partner.test/")
			if err != nil || status != 200 || body != "tls=true host=api.partner.test" {
				t.Fatalf("call %d: %d %q %v, want the endpoint reached over TLS", i, status, body, err)
			}
		}
		seen := ext.Requests()
		if up := seen[len(seen)-1]; up.TLS == nil || up.TLS.ServerName != "api.partner.test" {
			t.Errorf("upstream TLS %+v, want SNI api.partner.test", up.TLS)
		}
	})
	t.Run("a TLS stream, tunnelled straight to the endpoint", func(t *testing.T) {
		for i := range 2 {
			c := viaProxy(sc.addr)
			c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: ext.Roots()}
			status, body, err := get(t, c, "https://tunnel.partner.test/")
			if err != nil || status != 200 || body != "tls=true host=tunnel.partner.test" {
				t.Fatalf("stream %d: %d %q %v", i, status, body, err)
			}
			c.CloseIdleConnections()
		}
	})
	t.Run("a service whose selector matches nothing answers 503 and says why", func(t *testing.T) {
		status, _, err := get(t, viaProxy(sc.addr), "http://orphan.partner.test/")
		if err != nil || status != http.StatusServiceUnavailable {
			t.Fatalf("got %d %v, want 503", status, err)
		}
		var found bool
		for _, l := range lines(t, sc.log) {
			if r, _ := l["reason"].(string); l["authority"] == "orphan.partner.test" &&
				strings.Contains(r, "ExternalService bookinfo/orphan selects no ExternalEndpoint") && l["response_flags"] == "UH" {
				found = true
			}
		}
		if !found {
			t.Errorf("no log line for orphan.partner.test with flag UH and the reason: %v", lines(t, sc.log))
		}
	})
}

func TestTheSidecarNeverDialsALinkLocalEndpointWithoutTheOptIn(t *testing.T) {
	m := meshtest.NewMesh(t)
	metadata := `apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata:
  name: metadata
  namespace: bookinfo
  labels: {partner: api}
  annotations: {egret.dev/allow-link-local: "true"}
spec:
  address: 169.254.169.254
  ports: [{name: tls, number: 443}]
`
	cfg := meshtest.SidecarConfig(t, "bookinfo", "productpage", nil, directPartner("/nonexistent/ca.pem", metadata)...)
	// The config arrives without the opt-in: the sidecar refuses the address itself, before dialling.
	n := 0
	for i := range cfg.Plan.Services {
		for j := range cfg.Plan.Services[i].Ports {
			for k := range cfg.Plan.Services[i].Ports[j].Endpoints {
				cfg.Plan.Services[i].Ports[j].Endpoints[k].AllowLinkLocal = false
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no endpoint in the config")
	}
	sc := startSidecar(t, m, cfg)
	c := viaProxy(sc.addr)
	if _, _, err := get(t, c, "https://tunnel.partner.test/"); err == nil {
		t.Fatal("the tunnel to a link-local endpoint was opened")
	}
	meshtest.WaitFor(t, func() bool { return len(lines(t, sc.log)) == 1 })
	l := lines(t, sc.log)[0]
	if r, _ := l["reason"].(string); !strings.Contains(r, "169.254.169.254/32 (cloud metadata)") || l["response_flags"] != "UF" {
		t.Errorf("log line %v: want UF and the refusal naming the range", l)
	}
}
