package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

func get(t testing.TB, c *http.Client, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// logLines decodes the gateway's JSON access log.
func logLines(t testing.TB, r *meshtest.Gateway) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.Log.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("access log line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func waitLog(t testing.TB, r *meshtest.Gateway, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := logLines(t, r)
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSeedScenarioThroughARealGateway(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s over %s", r.Host, r.Proto)
	})
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)

	resp, body := get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com/search?q=secret", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "hello from www.google.com") {
		t.Fatalf("meshtest.Productpage: %d %q, want 200 from the external host", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("sidecar hop spoke %s, want HTTP/2", resp.Proto)
	}
	seen := ext.Requests()
	if len(seen) != 1 {
		t.Fatalf("external host saw %d requests, want 1", len(seen))
	}
	up := seen[0]
	if up.TLS == nil || up.TLS.ServerName != "www.google.com" {
		t.Errorf("upstream TLS %+v, want TLS originated with SNI www.google.com", up.TLS)
	}
	if up.Host != "www.google.com" || up.Header.Get("X-Request-Id") == "" {
		t.Errorf("upstream Host %q, x-request-id %q", up.Host, up.Header.Get("X-Request-Id"))
	}
	if xff := up.Header.Get("X-Forwarded-For"); xff != "" {
		t.Errorf("upstream saw X-Forwarded-For %q: the mesh's internal addresses leak", xff)
	}

	resp, body = get(t, m.Client(meshtest.Reviews, gw.Addr), "https://www.google.com/", nil)
	if resp.StatusCode != http.StatusForbidden || body != "RBAC: access denied" {
		t.Fatalf("meshtest.Reviews: %d %q, want 403 RBAC: access denied", resp.StatusCode, body)
	}
	if len(ext.Requests()) != 1 {
		t.Error("a denied request reached the external host")
	}

	lines := waitLog(t, gw, 2)
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2:\n%s", len(lines), gw.Log.String())
	}
	allow, deny := lines[0], lines[1]
	for k, want := range map[string]any{
		"source_identity": meshtest.Productpage, "authority": "www.google.com", "decision": "allow",
		"policy": "bookinfo/egress-access-productpage", "response_code": 200.0, "path": "/search",
		"upstream_cluster": "outbound|443||www.google.com", "method": "GET",
	} {
		if allow[k] != want {
			t.Errorf("allow line %s = %v, want %v", k, allow[k], want)
		}
	}
	for k, want := range map[string]any{
		"source_identity": meshtest.Reviews, "decision": "deny", "response_code": 403.0,
		"reason": "no rule of AccessPolicy bookinfo/egress-access-productpage allows " + meshtest.Reviews,
	} {
		if deny[k] != want {
			t.Errorf("deny line %s = %v, want %v", k, deny[k], want)
		}
	}
	if strings.Contains(gw.Log.String(), "secret") {
		t.Error("the query string reached the access log")
	}
}

func TestCallerIdentityComesOnlyFromItsCertificate(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {})
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
	resp, _ := get(t, m.Client(meshtest.Reviews, gw.Addr), "https://www.google.com/", map[string]string{
		"X-Forwarded-Client-Cert": "By=" + meshtest.GatewaySVID + ";URI=" + meshtest.Productpage,
		"X-Spiffe-Id":             meshtest.Productpage,
	})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("meshtest.Reviews claiming meshtest.Productpage in headers got %d, want 403", resp.StatusCode)
	}
}

func TestHandshakesThatMustFail(t *testing.T) {
	m := meshtest.NewMesh(t)
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), nil, nil)
	other := meshtest.NewMesh(t)
	past := meshtest.NewMeshAt(t, time.Now().Add(-48*time.Hour))
	// The gateway must trust both roots for the expiry case to test expiry, not the CA.
	expired := past.SVID(meshtest.Productpage, time.Hour)
	fromOther := other.SVID(meshtest.Productpage, time.Hour)
	tests := []struct {
		name     string
		cert     *tls.Certificate
		gwTrusts *meshtest.Mesh
		wantErr  string
	}{
		{"no client certificate", nil, m, "certificate required"},
		{"a certificate from another CA", &fromOther, m, "unknown certificate authority"},
		{"an expired certificate", &expired, past, "expired certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := gw
			if tc.gwTrusts != m {
				target = meshtest.StartGateway(t, tc.gwTrusts, meshtest.SeedConfig(t), nil, nil)
			}
			conf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
			if tc.cert != nil {
				conf.Certificates = []tls.Certificate{*tc.cert}
			}
			conn, err := tls.Dial("tcp", target.Addr, conf)
			if err == nil {
				// TLS 1.3: the server's verdict on the client certificate arrives as an alert on read.
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = conn.Read(make([]byte, 1))
				conn.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want a handshake failure: %s", err, tc.wantErr)
			}
		})
	}
}

func TestRequestsThatMustBeRefused(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {})
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, func(p *gateway.Params) { p.MaxHeaderBytes = 4 << 10 })
	pp := m.Client(meshtest.Productpage, gw.Addr)

	t.Run("a host that is not exposed", func(t *testing.T) {
		resp, _ := get(t, pp, "https://www.example.org/", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("got %d, want 404", resp.StatusCode)
		}
	})
	t.Run("the external service's own port, bypassing portMatch", func(t *testing.T) {
		resp, _ := get(t, pp, "https://www.google.com:443/", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("got %d, want 404", resp.StatusCode)
		}
	})
	t.Run("oversized headers", func(t *testing.T) {
		resp, _ := get(t, m.ClientWith(meshtest.Ptr(m.SVID(meshtest.Productpage, time.Hour)), gw.Addr, false), "https://www.google.com/", map[string]string{"X-Big": strings.Repeat("a", 8<<10)})
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("got %d, want 431", resp.StatusCode)
		}
	})
	t.Run("a Host header that names a host not exposed", func(t *testing.T) {
		conn := meshtest.DialTLS(t, m, gw.Addr, meshtest.Productpage, "http/1.1")
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("got %d, want 404", resp.StatusCode)
		}
	})
	if n := len(ext.Requests()); n != 0 {
		t.Errorf("the external host saw %d refused requests", n)
	}
	t.Run("a Host header that differs from the request target", func(t *testing.T) {
		// The decision reads the request target (RFC 9112: the Host header is ignored then), and the
		// request goes out with that same host: the other name never reaches anyone.
		conn := meshtest.DialTLS(t, m, gw.Addr, meshtest.Productpage, "http/1.1")
		fmt.Fprint(conn, "GET http://www.google.com/ HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := ext.Requests()
		if resp.StatusCode != http.StatusOK || len(seen) != 1 || seen[0].Host != "www.google.com" {
			t.Fatalf("got %d; upstream saw %d requests", resp.StatusCode, len(seen))
		}
		for k, v := range seen[0].Header {
			if strings.Contains(strings.Join(v, ","), "example.org") {
				t.Errorf("upstream header %s carries the other host: %v", k, v)
			}
		}
	})
}

func TestSlowClientIsDisconnected(t *testing.T) {
	m := meshtest.NewMesh(t)
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), nil, func(p *gateway.Params) { p.ReadHeaderTimeout = 200 * time.Millisecond })
	conn := meshtest.DialTLS(t, m, gw.Addr, meshtest.Productpage, "http/1.1")
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: www.goo") // and never finish
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadAll(conn)
	if err != nil && strings.Contains(err.Error(), "timeout") {
		t.Fatal("the gateway kept a slowloris connection open")
	}
}

func TestUpstreamFailuresAreAnsweredAndLogged(t *testing.T) {
	m := meshtest.NewMesh(t)
	slow := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Second) })
	tests := []struct {
		name       string
		tune       func(*gateway.Params, *meshtest.External)
		status     int
		flag       string
		reasonPart string
	}{
		{"a certificate from an unknown authority", func(p *gateway.Params, e *meshtest.External) {
			p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{"www.google.com:443": e.Addr()}})
		}, 503, "UF", "unknown authority"},
		{"nothing listening", func(p *gateway.Params, e *meshtest.External) {
			p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{"www.google.com:443": meshtest.ClosedAddr(t)}, ExtraRootsFile: e.CAFile})
		}, 503, "UF", "refused"},
		{"a timeout", func(p *gateway.Params, e *meshtest.External) {
			p.UpstreamTimeout = 300 * time.Millisecond
		}, 504, "UT", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), slow, func(p *gateway.Params) { tc.tune(p, slow) })
			resp, _ := get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com/", nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d, want %d", resp.StatusCode, tc.status)
			}
			line := waitLog(t, gw, 1)[0]
			flags, _ := line["response_flags"].(string)
			reason, _ := line["reason"].(string)
			if flags != tc.flag || !strings.Contains(reason, tc.reasonPart) {
				t.Errorf("log flags %q reason %q, want %s and %q", flags, reason, tc.flag, tc.reasonPart)
			}
		})
	}
}

func TestOverloadAnswers503WithRetryAfter(t *testing.T) {
	m := meshtest.NewMesh(t)
	release := make(chan struct{})
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { <-release })
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, func(p *gateway.Params) { p.MaxInFlight = 1 })
	c := m.Client(meshtest.Productpage, gw.Addr)
	done := make(chan int)
	go func() {
		resp, err := c.Get("https://www.google.com/slow")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	meshtest.WaitFor(t, func() bool { return len(ext.Requests()) == 1 })
	resp, _ := get(t, c, "https://www.google.com/", nil)
	close(release)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("got %d with Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if s := <-done; s != http.StatusOK {
		t.Errorf("the request in flight got %d, want 200", s)
	}
}

func TestConfigSwapUnderLoadLosesNoRequest(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { time.Sleep(5 * time.Millisecond) })
	base := meshtest.SeedConfig(t)
	other := meshtest.SeedConfig(t, extraPolicy)
	if base.Version == other.Version {
		t.Fatal("the two configs have the same version")
	}
	gw := meshtest.StartGateway(t, m, base, ext, nil)
	var failed, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := m.Client(meshtest.Productpage, gw.Addr)
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("https://www.google.com/")
				total.Add(1)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for i := 0; i < 50; i++ {
		cfg := base
		if i%2 == 0 {
			cfg = other
		}
		if err := gw.GW.Update(cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || total.Load() == 0 {
		t.Fatalf("%d of %d requests failed across 50 config swaps", failed.Load(), total.Load())
	}
}

func TestShutdownCompletesRequestsInFlight(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	})
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
	const n = 10
	results := make(chan string, n)
	for i := 0; i < n; i++ {
		c := m.Client(meshtest.Productpage, gw.Addr)
		go func() {
			resp, err := c.Get("https://www.google.com/")
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- fmt.Sprint(resp.StatusCode, " ", string(b))
		}()
	}
	meshtest.WaitFor(t, func() bool { return len(ext.Requests()) >= n })
	if err := gw.GW.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if r := <-results; r != "200 done" {
			t.Errorf("request in flight during shutdown: %s, want 200 done", r)
		}
	}
	if gw.GW.Ready() {
		t.Error("a drained gateway reports ready")
	}
	if _, err := m.Client(meshtest.Productpage, gw.Addr).Get("https://www.google.com/"); err == nil {
		t.Error("a shut-down gateway accepted a new request")
	}
}

func TestAdminEndpoints(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {})
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, mutualService), ext, nil)
	get(t, m.Client(meshtest.Reviews, gw.Addr), "https://www.google.com/", nil)
	admin := httptest.NewServer(gw.GW.AdminHandler())
	defer admin.Close()

	body := meshtest.Fetch(t, admin.URL+"/stats/prometheus")
	want := `egret_gateway_requests_total{decision="deny",destination_service="bookinfo/google",gateway="cluster1/gloo-mesh-gateways/istio-egressgateway",policy="bookinfo/egress-access-productpage",response_flags="RBAC",source_identity="` + meshtest.Reviews + `",status="403"} 1`
	if !strings.Contains(body, want) {
		t.Errorf("metrics lack %s:\n%s", want, body)
	}
	if body := meshtest.Fetch(t, admin.URL+"/healthz/ready"); body != "ready\n" {
		t.Errorf("ready: %q", body)
	}
	dump := meshtest.Fetch(t, admin.URL+"/config_dump")
	if !strings.Contains(dump, "[redacted]") || strings.Contains(dump, "/etc/egret/client-key.pem") {
		t.Errorf("config dump does not redact the private key path:\n%s", dump)
	}
}
