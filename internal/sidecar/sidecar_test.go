package sidecar_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/proxyconfig"
	"egret.dev/egret/internal/sidecar"
)

const (
	gw1 = "cluster1/gloo-mesh-gateways/istio-egressgateway"
	gw2 = "cluster2/gloo-mesh-gateways/istio-egressgateway"
)

// runningSidecar is an explicit-mode sidecar on a loopback port, with its access log.
type runningSidecar struct {
	sc   *sidecar.Sidecar
	addr string
	log  *meshtest.LockedBuffer // the access log
	slog *meshtest.LockedBuffer // the sidecar's own log, JSON, as 'egret sidecar' writes it
}

// tunnelGatewayAddrs tells a sidecar where the seed gateway with meshtest.TunnelResources listens:
// the keys name its two listeners by target port ("ID:port", as GatewayAddresses does), the values
// are the free loopback ports the gateway bound them to (the tests override both target ports to 0).
func tunnelGatewayAddrs(gw *gateway.Gateway) map[string]string {
	addrs := map[string]string{}
	for _, port := range []uint32{meshtest.HTTPTargetPort, meshtest.TunnelTargetPort} {
		addrs[fmt.Sprintf("%s:%d", gw1, port)] = gw.Addr(port)
	}
	return addrs
}

// startSidecar runs the workload's sidecar with an SVID of workload from m.
func startSidecar(t testing.TB, m *meshtest.Mesh, cfg *proxyconfig.Sidecar) *runningSidecar {
	t.Helper()
	return startSidecarWith(t, m, cfg, nil)
}

// startSidecarWith is startSidecar with Params changed by tune.
func startSidecarWith(t testing.TB, m *meshtest.Mesh, cfg *proxyconfig.Sidecar, tune func(*sidecar.Params)) *runningSidecar {
	t.Helper()
	cert := m.SVID(cfg.Workload.Identity.String(), time.Hour)
	logs, slogs := &meshtest.LockedBuffer{}, &meshtest.LockedBuffer{}
	p := sidecar.Params{
		ClientTLS: func(gateway ir.SpiffeID) *tls.Config {
			want := gateway.String()
			return &tls.Config{
				Certificates:       []tls.Certificate{cert},
				InsecureSkipVerify: true, // the chain and SPIFFE ID are verified below
				VerifyConnection:   func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, m.Pool, want) },
			}
		},
		Access: accesslog.New(logs, accesslog.FormatJSON),
		// The attributes 'egret sidecar' puts on every line, so tests see its lines whole.
		Log: slog.New(slog.NewJSONHandler(slogs, &slog.HandlerOptions{Level: slog.LevelDebug})).
			With("component", "sidecar", "workload", cfg.Workload.Namespace+"/"+cfg.Workload.Name),
	}
	if tune != nil {
		tune(&p)
	}
	sc, err := sidecar.New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sc.Serve(ln)
	t.Cleanup(func() { sc.Close() })
	return &runningSidecar{sc: sc, addr: ln.Addr().String(), log: logs, slog: slogs}
}

// viaProxy is an unmodified HTTP client configured with HTTP_PROXY pointing at the sidecar.
func viaProxy(addr string) *http.Client {
	u, _ := url.Parse("http://" + addr)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
}

func get(t *testing.T, c *http.Client, u string) (int, string, error) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func lines(t *testing.T, b *meshtest.LockedBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// seed starts the stand-in and cluster1's gateway, and returns a sidecar for workload.
func seed(t *testing.T, m *meshtest.Mesh, workload string) (*runningSidecar, *meshtest.Gateway, *meshtest.External) {
	t.Helper()
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.Host)
	})
	g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", workload, map[string]string{gw1: g.Addr}))
	return sc, g, ext
}

func TestSeedScenarioThroughSidecarAndGateway(t *testing.T) {
	m := meshtest.NewMesh(t)
	pp, g, ext := seed(t, m, "productpage")
	rv := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "reviews", map[string]string{gw1: g.Addr}))

	status, body, err := get(t, viaProxy(pp.addr), "http://www.google.com/")
	if err != nil || status != 200 || body != "hello from www.google.com" {
		t.Fatalf("productpage: %d %q %v", status, body, err)
	}
	if up := ext.Requests(); len(up) != 1 || up[0].TLS == nil || up[0].TLS.ServerName != "www.google.com" {
		t.Fatalf("the external host did not see one TLS request for www.google.com: %d", len(up))
	}
	status, body, _ = get(t, viaProxy(rv.addr), "http://www.google.com/")
	if status != 403 || body != "RBAC: access denied" {
		t.Errorf("reviews: %d %q, want 403 RBAC: access denied", status, body)
	}
	gl := lines(t, g.Log)
	if len(gl) != 2 || gl[0]["source_identity"] != meshtest.Productpage || gl[1]["source_identity"] != meshtest.Reviews {
		t.Errorf("the gateway did not see each workload's own identity: %v", gl)
	}
	sl := lines(t, pp.log)
	if len(sl) != 1 || sl[0]["upstream_cluster"] != gw1 || sl[0]["component"] != "sidecar" || sl[0]["response_code"] != 200.0 {
		t.Errorf("sidecar log: %v", sl)
	}
}

func TestRegistryOnlyBlocksAndSaysWhy(t *testing.T) {
	m := meshtest.NewMesh(t)
	pp, _, _ := seed(t, m, "productpage")
	status, body, err := get(t, viaProxy(pp.addr), "http://www.example.org/path")
	if err != nil || status != http.StatusBadGateway || body != "" {
		t.Fatalf("unknown host: %d %q %v, want 502 with an empty body", status, body, err)
	}
	if _, _, err := get(t, viaProxy(pp.addr), "https://www.example.org/"); err == nil {
		t.Error("a CONNECT to an unknown host was let through")
	}
	l := lines(t, pp.log)
	if len(l) != 2 {
		t.Fatalf("%d log lines, want 2", len(l))
	}
	admin := httptest.NewServer(pp.sc.AdminHandler())
	defer admin.Close()
	metrics := meshtest.Fetch(t, admin.URL+"/stats/prometheus")
	want := `egret_sidecar_requests_total{decision="deny",destination_service="unknown",gateway="",policy="",response_flags="NR",source_identity="` + meshtest.Productpage + `",status="502"} 2` // the plain request and the CONNECT
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s:\n%s", want, metrics)
	}
	for _, e := range l {
		reason, _ := e["reason"].(string)
		if e["decision"] != "deny" || e["source_identity"] != meshtest.Productpage || !strings.Contains(reason, "www.example.org") || !strings.Contains(reason, "REGISTRY_ONLY") {
			t.Errorf("blocked call logged as %v", e)
		}
	}
}

func TestAllowAnyPassesUnknownHostsThrough(t *testing.T) {
	m := meshtest.NewMesh(t)
	direct := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "direct") }))
	defer direct.Close()
	cfg := meshtest.SidecarConfig(t, "bookinfo", "productpage", nil)
	cfg.Plan.Outbound = ir.AllowAny
	sc := startSidecar(t, m, cfg)
	status, body, err := get(t, viaProxy(sc.addr), direct.URL+"/")
	if err != nil || status != 200 || body != "direct" {
		t.Fatalf("ALLOW_ANY: %d %q %v", status, body, err)
	}
}

func TestCurlThroughTheSidecar(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (apt-get install curl); the Go-client tests cover the same path")
	}
	m := meshtest.NewMesh(t)
	pp, _, _ := seed(t, m, "productpage")
	out, err := exec.Command("curl", "-sS", "--max-time", "10", "-x", "http://"+pp.addr, "http://www.google.com/").CombinedOutput()
	if err != nil || string(out) != "hello from www.google.com" {
		t.Fatalf("curl -x: %q %v", out, err)
	}
	out, _ = exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-x", "http://"+pp.addr, "http://blocked.example.net/").CombinedOutput()
	if string(out) != "502" {
		t.Errorf("curl to an unknown host: %q, want 502", out)
	}
}

func TestFailoverWhenAGatewayDies(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	g1 := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
	g2 := meshtest.StartGateway(t, m, meshtest.GatewayConfig(t, gw2), ext, nil)
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", map[string]string{gw1: g1.Addr, gw2: g2.Addr}))
	c := viaProxy(sc.addr)
	if status, _, err := get(t, c, "http://www.google.com/"); err != nil || status != 200 {
		t.Fatalf("before: %d %v", status, err)
	}
	if err := g1.GW.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if status, _, err := get(t, c, "http://www.google.com/"); err != nil || status != 200 {
			t.Fatalf("after cluster1's gateway stopped, request %d: %d %v", i, status, err)
		}
	}
	l := lines(t, sc.log)
	if last := l[len(l)-1]; last["upstream_cluster"] != gw2 {
		t.Errorf("the last request went to %v, want %s", last["upstream_cluster"], gw2)
	}
	if n := len(lines(t, g2.Log)); n < 5 {
		t.Errorf("cluster2's gateway served %d requests, want at least 5", n)
	}
}

func TestAGatewayWithTheWrongIdentityIsRefused(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {})
	// The impostor holds a valid mesh SVID, but not the gateway's.
	evil := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, func(p *gateway.Params) {
		p.TLS = m.ServerTLS("spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews")
	})
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", map[string]string{gw1: evil.Addr}))
	status, _, err := get(t, viaProxy(sc.addr), "http://www.google.com/")
	if err != nil || status != http.StatusServiceUnavailable {
		t.Fatalf("got %d %v, want 503", status, err)
	}
	if len(ext.Requests()) != 0 || len(lines(t, evil.Log)) != 0 {
		t.Error("the request reached the impostor")
	}
	if r, _ := lines(t, sc.log)[0]["reason"].(string); !strings.Contains(r, "wrong SPIFFE ID") {
		t.Errorf("reason %q does not say the gateway's identity was wrong", r)
	}
}

func TestHTTPSThroughTheSidecarIsATunnelToTheGateway(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "*.example.com", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hi %s", r.Host) })
	g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, meshtest.TunnelResources), ext, func(p *gateway.Params) {
		p.PortOverrides[meshtest.TunnelTargetPort] = 0
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{"api.example.com:443": ext.Addr()}})
	})
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage",
		tunnelGatewayAddrs(g.GW), meshtest.TunnelResources))
	c := viaProxy(sc.addr)
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: ext.Roots()}
	status, body, err := get(t, c, "https://api.example.com/")
	if err != nil || status != 200 || body != "hi api.example.com" {
		t.Fatalf("HTTPS via the sidecar: %d %q %v", status, body, err)
	}
	c.CloseIdleConnections() // ends the tunnel, which is when its one log line is written
	meshtest.WaitFor(t, func() bool { return len(lines(t, g.Log)) == 1 })
	gl := lines(t, g.Log)
	if len(gl) != 1 || gl[0]["requested_server_name"] != "api.example.com" || gl[0]["source_identity"] != meshtest.Productpage {
		t.Errorf("gateway log: %v", gl)
	}
}

func TestDirectServiceWithClientsideTLSIsOriginatedAtTheSidecar(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "localhost", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v host=%s", r.TLS != nil, r.Host)
	})
	port := ext.Addr()[strings.LastIndex(ext.Addr(), ":")+1:]
	direct := `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: local-api, namespace: bookinfo}
spec:
  hosts: [localhost]
  ports:
  - name: http
    number: 80
    protocol: HTTP
    targetPort: {number: ` + port + `}
    clientsideTls: {caCertificates: ` + ext.CAFile + `}
`
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", nil, direct))
	status, body, err := get(t, viaProxy(sc.addr), "http://localhost/")
	if err != nil || status != 200 || body != "tls=true host=localhost" {
		t.Fatalf("got %d %q %v, want the service reached over TLS the sidecar originated", status, body, err)
	}
	if l := lines(t, sc.log); len(l) != 1 || l[0]["upstream_host"] != "localhost:"+port {
		t.Errorf("log: %v", l)
	}
}
