package cli

import (
	"context"
	"egret.dev/egret/internal/meshtest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/intercept"
	"egret.dev/egret/internal/netnstest"
)

// TestTransparentSidecarInANetworkNamespace runs `egret sidecar --transparent` in a namespace the test
// creates, and an unmodified curl in it calling http://www.google.com, which the namespace's hosts
// file resolves to a namespace-local address: nftables sends the call to the sidecar, which carries
// it through the gateway (outside the namespace) to the stand-in. When the sidecar stops, its rules go.
func TestTransparentSidecarInANetworkNamespace(t *testing.T) {
	netnstest.RequireRoot(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is missing; .ci/run installs it")
		}
		t.Skip("curl is not installed (apt-get install curl)")
	}
	ns := netnstest.New(t)
	if err := netnstest.AddAddr(ns, "lo", netip.MustParsePrefix("10.200.0.2/32")); err != nil {
		t.Fatal(err)
	}
	// `ip netns exec` bind-mounts /etc/netns/<name>/hosts over /etc/hosts for the command it runs.
	etc := filepath.Join("/etc/netns", ns.Name())
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	if err := os.WriteFile(filepath.Join(etc, "hosts"), []byte("10.200.0.2 www.google.com\n10.200.0.2 blocked.example.net\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	dir, gwCfg := gatewayCommandFiles(t)
	upstream, caFile := standIn(t, "www.google.com")
	gwPort, ready := freePort(t), freePort(t)
	ppCfg := filepath.Join(dir, "pp.json")
	run(t, "", "render", "sidecar-config", "-f", example, "--workload", "bookinfo/productpage",
		"--gateway-address", "cluster1/gloo-mesh-gateways/istio-egressgateway=127.0.0.1:"+gwPort, "--out", ppCfg)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gwOut, gwErr, scOut, scErr meshtest.LockedBuffer
	gwDone, scDone := make(chan int, 1), make(chan int, 1)
	go func() {
		gwDone <- Run(ctx, []string{"gateway", "--config", gwCfg, "--cert", filepath.Join(dir, "gw", "svid.pem"), "--key", filepath.Join(dir, "gw", "key.pem"),
			"--bundle", filepath.Join(dir, "gw", "bundle.pem"), "--port", "8443=" + gwPort, "--admin", "", "--ready", "127.0.0.1:" + ready,
			"--resolve", "www.google.com:443=" + upstream, "--upstream-ca", caFile}, strings.NewReader(""), &gwOut, &gwErr)
	}()
	waitReady(t, "http://127.0.0.1:"+ready+"/healthz/ready", &gwErr)
	// The sidecar's listeners and rules are made inside the namespace; its connections to the gateway
	// go from the test's own namespace, where the gateway listens.
	go ns.Do(func() error {
		scDone <- Run(ctx, []string{"sidecar", "--transparent", "--config", ppCfg, "--cert", filepath.Join(dir, "pp", "svid.pem"),
			"--key", filepath.Join(dir, "pp", "key.pem"), "--bundle", filepath.Join(dir, "pp", "bundle.pem"), "--listen", "127.0.0.1:15001"},
			strings.NewReader(""), &scOut, &scErr)
		return nil
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(scErr.String(), `"msg":"sidecar started"`) {
		if time.Now().After(deadline) {
			t.Fatalf("sidecar did not start:\n%s", scErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ok, err := intercept.Installed(ns.Path()); err != nil || !ok {
		t.Fatalf("nftables rules not installed in the namespace: %v", err)
	}

	out, err := exec.Command("ip", "netns", "exec", ns.Name(), curl, "-sS", "--max-time", "10", "http://www.google.com/").CombinedOutput()
	if err != nil || string(out) != "hello from www.google.com" {
		t.Fatalf("curl in the namespace: %q %v\nsidecar:\n%s\ngateway:\n%s", out, err, scErr.String(), gwErr.String())
	}
	out, _ = exec.Command("ip", "netns", "exec", ns.Name(), curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "http://blocked.example.net/").CombinedOutput()
	if string(out) != "502" {
		t.Errorf("an unknown host from the namespace: %q, want 502", out)
	}
	if !strings.Contains(gwOut.String(), "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage") {
		t.Errorf("the gateway's log does not show the call:\n%s", gwOut.String())
	}

	cancel()
	if code := <-scDone; code != ExitOK {
		t.Errorf("sidecar exited %d:\n%s", code, scErr.String())
	}
	if ok, err := intercept.Installed(ns.Path()); err != nil || ok {
		t.Errorf("nftables rules still installed after the sidecar stopped (err %v)", err)
	}
	<-gwDone
}
