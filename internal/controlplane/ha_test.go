package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/xds"
)

// High availability in the standalone shape: two control planes on one config dir and one data dir.

// startPair starts two control planes on dir and one data dir; stop[i] stops the i-th (as a killed
// process would: its servers close, its streams end).
func startPair(t *testing.T, dir string) (cps [2]*ControlPlane, stop [2]func()) {
	t.Helper()
	data := t.TempDir()
	for i := range cps {
		cp, stopRun := runCP(t, Params{ConfigDir: dir, DataDir: data, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Poll: 20 * time.Millisecond, Debounce: 60 * time.Millisecond})
		cps[i], stop[i] = cp, func() { stopRun() }
	}
	return cps, stop
}

// connectHA connects a proxy to every address in addrs (the first one first), as
// --control-plane a,b does.
func connectHA(t *testing.T, cp *ControlPlane, id string, addrs []string) *proxy {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(cp.CA().Root())
	m := &meshtest.Mesh{T: t, CA: cp.CA(), Pool: pool}
	cert := m.SVID(id, time.Hour)
	conf := &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // verified by SPIFFE ID below
		VerifyConnection:   func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, pool, cpID) },
	}
	kind := xds.KindSidecar
	if strings.Contains(id, "/sa/istio-egressgateway") {
		kind = xds.KindGateway
	}
	p := &proxy{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- xds.RunDeltaClient(ctx, xds.DeltaClientParams{Address: strings.Join(addrs, ","), TLS: conf, Kind: kind, Apply: p.apply,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return p
}

func TestTwoControlPlanesOnOneDataDirServeTheSameVersions(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	cps, _ := startPair(t, dir)
	if cps[0].CA().RootHash() != cps[1].CA().RootHash() {
		t.Fatal("the two control planes have different roots")
	}
	same := func(what string) {
		t.Helper()
		var a, b map[string]string
		meshtest.WaitFor(t, func() bool {
			a, b = versions(t, cps[0]), versions(t, cps[1])
			return equal(a, b)
		})
		for id, v := range a {
			if v == "" {
				t.Fatalf("%s: no version for %s", what, id)
			}
		}
	}
	same("initial load")
	before := versions(t, cps[0])
	meshtest.Edit(t, dir, policy, "          name: bookinfo-productpage\n", "          name: bookinfo-productpage\n      - serviceAccountSelector:\n          name: bookinfo-reviews\n")
	meshtest.WaitFor(t, func() bool { return versions(t, cps[0])[gw1ID] != before[gw1ID] })
	same("after an edit both loaded")
}

func TestAProxyFailsOverToTheOtherControlPlaneAndIsSyncedThere(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	cps, stop := startPair(t, dir)
	addrs := []string{cps[0].Addr(), cps[1].Addr()}
	proxies := map[string]*proxy{}
	for _, id := range everyProxy {
		proxies[id] = connectHA(t, cps[0], id, addrs)
	}
	synced(t, cps[0], proxies)
	counts := map[string]int{}
	for id, p := range proxies {
		counts[id] = len(p.applied())
	}

	stop[0]()
	synced(t, cps[1], proxies)
	for id, p := range proxies {
		// The second control plane serves what the first did: the proxy had nothing new to apply.
		if n := len(p.applied()); n != counts[id] {
			t.Errorf("%s applied %d configs after the failover, want none (same versions)", id, n-counts[id])
		}
	}

	// A change after the failover reaches every proxy through the survivor.
	before := versions(t, cps[1])
	meshtest.Edit(t, dir, policy, "          name: bookinfo-productpage\n", "          name: bookinfo-productpage\n      - serviceAccountSelector:\n          name: bookinfo-reviews\n")
	meshtest.WaitFor(t, func() bool { return versions(t, cps[1])[gw1ID] != before[gw1ID] })
	synced(t, cps[1], proxies)
}

// A control plane started after services were inserted (in a new file that sorts first, and in front
// of the services of an existing file) serves the versions of one that followed the insertions: the
// order keys come from the files, not from the history.
func TestAControlPlaneStartedAfterAnInsertionServesTheSameVersions(t *testing.T) {
	svc := func(name string) string {
		return "---\napiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata:\n  name: " + name +
			"\n  namespace: bookinfo\nspec:\n  hosts:\n  - " + name + ".example.com\n  ports:\n  - name: https\n    number: 443\n    protocol: HTTPS\n"
	}
	dir := meshtest.CopyExample(t, map[string]string{"10-more.yaml": svc("m") + svc("n")})
	first := startCP(t, dir)
	before := versions(t, first)
	for name, data := range map[string]string{"00-first.yaml": svc("z"), "10-more.yaml": svc("a") + svc("m") + svc("n")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meshtest.WaitFor(t, func() bool { return len(first.Plan().Services) == 5 })
	second := startCP(t, dir)
	// The first pushes its plan to its delta server just after taking it: wait for that, then compare.
	a, b := versions(t, first), versions(t, second)
	for deadline := time.Now().Add(10 * time.Second); !equal(a, b); a, b = versions(t, first), versions(t, second) {
		if time.Now().After(deadline) {
			t.Fatalf("versions differ:\n  followed the insertions: %v\n  started after them:      %v", a, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if equal(before, a) {
		t.Fatal("the insertions changed no version")
	}
}
