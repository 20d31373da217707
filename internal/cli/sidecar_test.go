package cli

import (
	"context"
	"egret.dev/egret/internal/meshtest"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJoinTokensToATrafficFlow is the standalone bootstrap a user follows: a CA serving enrollment,
// one join token per proxy, a gateway and two sidecars started with nothing but their config, a token
// and the CA's address, and unmodified clients going out through them.
func TestJoinTokensToATrafficFlow(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caAddr := "127.0.0.1:" + freePort(t)
	var caErr meshtest.LockedBuffer
	caDone := make(chan int, 1)
	go func() {
		caDone <- Run(ctx, []string{"ca", "serve", "--data-dir", data, "--listen", caAddr}, strings.NewReader(""), io.Discard, &caErr)
	}()
	// Wait for the CA to listen: it creates the root on start, which a token create must not race.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", caAddr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ca serve did not listen: %s", caErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	token := func(id string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, out, errw := run(t, "", "token", "create", "--data-dir", data, "--identity", id)
			if code == ExitOK {
				return strings.TrimSpace(out)
			}
			if time.Now().After(deadline) {
				t.Fatalf("token create: %s", errw)
			}
			time.Sleep(50 * time.Millisecond) // the CA creates its root on start
		}
	}
	gwToken := token("spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway")
	ppToken := token("spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage")
	rvToken := token("spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews")

	upstream, caFile := standIn(t, "www.google.com")
	gwPort, ready := freePort(t), freePort(t)
	gwCfg, ppCfg, rvCfg := filepath.Join(dir, "gw.json"), filepath.Join(dir, "pp.json"), filepath.Join(dir, "rv.json")
	gwAddr := "cluster1/gloo-mesh-gateways/istio-egressgateway=127.0.0.1:" + gwPort
	for _, args := range [][]string{
		{"render", "gateway-config", "-f", example, "--gateway", "cluster1/gloo-mesh-gateways/istio-egressgateway", "--out", gwCfg},
		{"render", "sidecar-config", "-f", example, "--workload", "bookinfo/productpage", "--gateway-address", gwAddr, "--out", ppCfg},
		{"render", "sidecar-config", "-f", example, "--workload", "bookinfo/reviews", "--gateway-address", gwAddr, "--out", rvCfg},
	} {
		if code, _, errw := run(t, "", args...); code != ExitOK {
			t.Fatalf("%v: %s", args, errw)
		}
	}
	var gwOut, gwErr, ppOut, ppErr, rvErr meshtest.LockedBuffer
	done := make(chan int, 3)
	go func() {
		done <- Run(ctx, []string{"gateway", "--config", gwCfg, "--control-plane", caAddr, "--token", gwToken,
			"--port", "8443=" + gwPort, "--admin", "", "--ready", "127.0.0.1:" + ready,
			"--resolve", "www.google.com:443=" + upstream, "--upstream-ca", caFile}, strings.NewReader(""), &gwOut, &gwErr)
	}()
	waitReady(t, "http://127.0.0.1:"+ready+"/healthz/ready", &gwErr)
	ppListen, rvListen := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	go func() {
		done <- Run(ctx, []string{"sidecar", "--config", ppCfg, "--control-plane", caAddr, "--token", ppToken, "--listen", ppListen}, strings.NewReader(""), &ppOut, &ppErr)
	}()
	go func() {
		done <- Run(ctx, []string{"sidecar", "--config", rvCfg, "--control-plane", caAddr, "--token", rvToken, "--listen", rvListen}, strings.NewReader(""), io.Discard, &rvErr)
	}()

	call := func(proxy, target string) (int, string) {
		t.Helper()
		u, _ := url.Parse("http://" + proxy)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := c.Get(target)
			if err == nil {
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s via %s: %v\nsidecar log:\n%s%s", target, proxy, err, ppErr.String(), rvErr.String())
			}
			time.Sleep(50 * time.Millisecond) // the sidecar is still enrolling
		}
	}
	if code, body := call(ppListen, "http://www.google.com/"); code != 200 || body != "hello from www.google.com" {
		t.Errorf("productpage: %d %q", code, body)
	}
	if code, body := call(rvListen, "http://www.google.com/"); code != 403 || body != "RBAC: access denied" {
		t.Errorf("reviews: %d %q", code, body)
	}
	if code, body := call(ppListen, "http://www.example.org/"); code != 502 || body != "" {
		t.Errorf("unknown host: %d %q", code, body)
	}
	if !strings.Contains(ppErr.String(), `"msg":"blocked"`) || !strings.Contains(ppErr.String(), "www.example.org:80") {
		t.Errorf("the sidecar did not log the blocked host:\n%s", ppErr.String())
	}
	// A join token is single use: a second proxy cannot take the same identity with it.
	code, _, errw := run(t, "", "sidecar", "--config", ppCfg, "--control-plane", caAddr, "--token", ppToken, "--listen", "127.0.0.1:0")
	if code != ExitError || !strings.Contains(errw, "token") {
		t.Errorf("reusing a join token: exit %d, %s", code, errw)
	}
	cancel()
	for i := 0; i < 3; i++ {
		if c := <-done; c != ExitOK {
			t.Errorf("a proxy exited %d:\n%s%s%s", c, gwErr.String(), ppErr.String(), rvErr.String())
		}
	}
	<-caDone
}
