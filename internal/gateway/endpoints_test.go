package gateway_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/proxyconfig"
)

// partnerResources: a listener on 15443 for *.partner.test, an ExternalService whose port 443 is reached
// through its ExternalEndpoints on the endpoint port named "tls" (TLS originated at the gateway, called
// on portMatch 80), one reached the same way in a CONNECT tunnel (portMatch 443, no origination), and one
// whose selector matches nothing. ENDPOINTS is replaced by the ExternalEndpoints of the test.
const partnerResources = `apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata: {name: partners, namespace: bookinfo}
spec:
  workloads: [{selector: {labels: {istio: egressgateway}}}]
  listeners:
  - port: {number: 15443}
    tls: {mode: ISTIO_MUTUAL}
    http: {}
    exposedExternalServices: [{host: "*.partner.test"}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: api, namespace: bookinfo}
spec:
  hosts: [api.partner.test]
  selector: {partner: api}
  ports:
  - name: https
    number: 443
    protocol: HTTPS
    targetPort: {name: tls}
    clientsideTls: {}
    egressGatewayRoutes:
      portMatch: 80
      virtualGatewayRefs: [{name: partners, cluster: cluster1}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: tunnel, namespace: bookinfo}
spec:
  hosts: [tunnel.partner.test]
  selector: {partner: api}
  ports:
  - name: tls
    number: 443
    protocol: HTTPS
    targetPort: {name: tls}
    egressGatewayRoutes:
      portMatch: 443
      virtualGatewayRefs: [{name: partners, cluster: cluster1}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: orphan, namespace: bookinfo}
spec:
  hosts: [orphan.partner.test]
  selector: {partner: nobody}
  ports:
  - name: https
    number: 443
    protocol: HTTPS
    clientsideTls: {}
    egressGatewayRoutes:
      portMatch: 80
      virtualGatewayRefs: [{name: partners, cluster: cluster1}]
`

// endpointAt is an ExternalEndpoint for partner=api on addr's port, named "tls"; a decoy port named
// "http" shows that the name, not the order or the service's number, picks the port.
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

// partner is a stand-in for api.partner.test and tunnel.partner.test that says which instance answered.
func partner(t *testing.T, name string) *meshtest.External {
	return meshtest.NewExternal(t, "*.partner.test", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s for %s", name, r.Host)
	})
}

// bundle writes the stand-ins' CAs into one file, for the gateway's --upstream-ca.
func bundle(t *testing.T, exts ...*meshtest.External) (string, *x509.CertPool) {
	var pem []byte
	pool := x509.NewCertPool()
	for _, e := range exts {
		b, err := os.ReadFile(e.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pem = append(pem, b...)
		pool.AppendCertsFromPEM(b)
	}
	f := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(f, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return f, pool
}

// startPartners runs a gateway with the partner listener and the given ExternalEndpoints. No DNS: the
// resolver knows no name, so anything that reaches an upstream went to an endpoint.
func startPartners(t *testing.T, m *meshtest.Mesh, roots string, edit func(*proxyconfig.Gateway), endpoints ...string) (*meshtest.Gateway, string) {
	t.Helper()
	cfg := meshtest.SeedConfig(t, append([]string{partnerResources}, endpoints...)...)
	if edit != nil {
		edit(cfg)
	}
	gw := meshtest.StartGateway(t, m, cfg, nil, func(p *gateway.Params) {
		p.PortOverrides[meshtest.TunnelTargetPort] = 0
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Resolver: meshtest.StaticResolver{}, ExtraRootsFile: roots})
	})
	return gw, gw.GW.Addr(15443)
}

func TestAHostServedOnlyThroughAnExternalEndpointOnANamedPort(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := partner(t, "a")
	roots, pool := bundle(t, ext)
	gw, addr := startPartners(t, m, roots, nil, endpointAt("a", ext.Addr()))

	t.Run("TLS originated at the gateway, with the service's host as authority and SNI", func(t *testing.T) {
		resp, body := get(t, m.Client(meshtest.Productpage, addr), "https://api.partner.test/", nil)
		if resp.StatusCode != http.StatusOK || body != "a for api.partner.test" {
			t.Fatalf("got %d %q, want 200 from the endpoint", resp.StatusCode, body)
		}
		seen := ext.Requests()
		if up := seen[len(seen)-1]; up.TLS == nil || up.TLS.ServerName != "api.partner.test" {
			t.Errorf("upstream TLS %+v, want SNI api.partner.test", up.TLS)
		}
		l := waitLog(t, gw, 1)[0]
		if l["upstream_host"] != ext.Addr() {
			t.Errorf("logged upstream_host %v, want the endpoint %s", l["upstream_host"], ext.Addr())
		}
	})
	t.Run("a CONNECT tunnel passes through to the endpoint", func(t *testing.T) {
		conn, status := h2Tunnel(t, m, addr, meshtest.Productpage, "tunnel.partner.test:443")
		if status != http.StatusOK {
			t.Fatalf("CONNECT got %d, want 200", status)
		}
		body, err := httpsThroughPool(t, conn, pool, "tunnel.partner.test")
		if err != nil || body != "a for tunnel.partner.test" {
			t.Fatalf("through the tunnel: %q, %v", body, err)
		}
	})
}

func TestEndpointsFailOverAndSpreadTheLoad(t *testing.T) {
	m := meshtest.NewMesh(t)
	a, b := partner(t, "a"), partner(t, "b")
	roots, pool := bundle(t, a, b)

	t.Run("a first endpoint that refuses connections fails over to the next, on both paths", func(t *testing.T) {
		_, addr := startPartners(t, m, roots, nil, endpointAt("dead", meshtest.ClosedAddr(t)), endpointAt("a", a.Addr()))
		c := m.Client(meshtest.Productpage, addr)
		for i := range 4 {
			resp, body := get(t, c, "https://api.partner.test/", nil)
			if resp.StatusCode != http.StatusOK || body != "a for api.partner.test" {
				t.Fatalf("request %d: %d %q, want 200 from the live endpoint", i, resp.StatusCode, body)
			}
		}
		for i := range 2 {
			conn, status := h2Tunnel(t, m, addr, meshtest.Productpage, "tunnel.partner.test:443")
			if status != http.StatusOK {
				t.Fatalf("tunnel %d: CONNECT got %d, want 200", i, status)
			}
			if body, err := httpsThroughPool(t, conn, pool, "tunnel.partner.test"); err != nil || body != "a for tunnel.partner.test" {
				t.Fatalf("tunnel %d: %q, %v", i, body, err)
			}
		}
	})
	t.Run("every endpoint refusing is an allowed call logged 503 with URX", func(t *testing.T) {
		gw, addr := startPartners(t, m, roots, nil, endpointAt("dead1", meshtest.ClosedAddr(t)), endpointAt("dead2", meshtest.ClosedAddr(t)))
		resp, _ := get(t, m.Client(meshtest.Productpage, addr), "https://api.partner.test/", nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("got %d, want 503", resp.StatusCode)
		}
		l := waitLog(t, gw, 1)[0]
		if l["response_flags"] != "URX" || l["decision"] != "allow" {
			t.Errorf("log line %v: want decision allow with URX (failover over both endpoints exhausted)", l)
		}
	})
	t.Run("two live endpoints share the requests", func(t *testing.T) {
		before := map[string]int{"a": len(a.Requests()), "b": len(b.Requests())}
		_, addr := startPartners(t, m, roots, nil, endpointAt("a", a.Addr()), endpointAt("b", b.Addr()))
		c := m.Client(meshtest.Productpage, addr)
		got := map[string]int{}
		for range 10 {
			_, body := get(t, c, "https://api.partner.test/", nil)
			got[strings.Fields(body)[0]]++
		}
		if got["a"] != 5 || got["b"] != 5 {
			t.Errorf("answers %v, want 5 from each endpoint", got)
		}
		if na, nb := len(a.Requests())-before["a"], len(b.Requests())-before["b"]; na != 5 || nb != 5 {
			t.Errorf("endpoints saw %d and %d requests, want 5 each", na, nb)
		}
	})
}

func TestASelectorMatchingNoEndpointAnswers503AndSaysWhy(t *testing.T) {
	m := meshtest.NewMesh(t)
	gw, addr := startPartners(t, m, "", nil)
	resp, _ := get(t, m.Client(meshtest.Productpage, addr), "https://orphan.partner.test/", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", resp.StatusCode)
	}
	l := waitLog(t, gw, 1)[0]
	reason, _ := l["reason"].(string)
	if !strings.Contains(reason, "ExternalService bookinfo/orphan selects no ExternalEndpoint (selector partner=nobody)") ||
		l["response_flags"] != "UH" || l["decision"] != "deny" {
		t.Errorf("log line %v: want UH, deny and a reason naming the service and its selector", l)
	}
}

func TestALinkLocalEndpointWithoutTheOptInIsNeverDialled(t *testing.T) {
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
	// The config arrives without the opt-in (an older control plane, a hand-written config): the gateway
	// must refuse the address on its own, before any packet leaves.
	dropOptIn := func(cfg *proxyconfig.Gateway) {
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
	}
	gw, addr := startPartners(t, m, "", dropOptIn, metadata)
	resp, _ := get(t, m.Client(meshtest.Productpage, addr), "https://api.partner.test/", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("L7: got %d, want 503", resp.StatusCode)
	}
	_, status := h2Tunnel(t, m, addr, meshtest.Productpage, "tunnel.partner.test:443")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("CONNECT: got %d, want 503", status)
	}
	for _, l := range waitLog(t, gw, 2) {
		reason, _ := l["reason"].(string)
		if !strings.Contains(reason, "169.254.169.254/32 (cloud metadata)") || !strings.Contains(reason, "egret.dev/allow-link-local") {
			t.Errorf("log reason %q: want the refusal naming the range and the annotation", reason)
		}
	}
}

// httpsThroughPool speaks TLS (verified against pool) and one GET inside a tunnel.
func httpsThroughPool(t testing.TB, conn net.Conn, pool *x509.CertPool, sni string) (string, error) {
	t.Helper()
	tc := tls.Client(conn, &tls.Config{ServerName: sni, RootCAs: pool})
	if err := tc.Handshake(); err != nil {
		return "", err
	}
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", sni)
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}
