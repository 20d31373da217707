package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/controlplane"
	"egret.dev/egret/internal/meshtest"
)

// TestTrafficSurvivesLosingOneOfTwoControlPlanes runs two control planes on one config dir and one data
// dir (high availability in the standalone shape), and a gateway and two sidecars given both addresses.
// Under load, the one the proxies follow is stopped: no request fails and every proxy is SYNCED on the
// other, with the versions it held. The first is restarted and the second stopped: the proxies move
// back and are SYNCED there too, again with the same versions (both serve the same content-addressed
// versions from the same inputs). A policy edit then reaches the proxies through it.
func TestTrafficSurvivesLosingOneOfTwoControlPlanes(t *testing.T) {
	ext := google(t)
	dir := meshtest.CopyExample(t, nil)
	data := filepath.Join(t.TempDir(), "data")
	listen := [2]string{freeAddr(t), freeAddr(t)}
	admin := [2]string{freeAddr(t), freeAddr(t)}
	gwAddr, ready, pp, rv := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	_, gwPort, _ := strings.Cut(gwAddr, ":")
	cpArgs := func(i int) []string {
		return []string{"controlplane", "-f", dir, "--data-dir", data, "--listen", listen[i], "--admin", admin[i],
			"--gateway-address", gw1 + "=" + gwAddr}
	}
	var cps [2]*proc
	for i := range cps {
		cps[i] = start(t, cpArgs(i)...) // both initialise the empty data dir at once
	}
	for i := range cps {
		deadline := time.Now().Add(20 * time.Second)
		for statusOrNil(admin[i]) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("control plane %d did not start:\n%s", i, tail(cps[i].err.String()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	token := func(id string) string {
		t.Helper()
		return strings.TrimSpace(egret(t, "token", "create", "--data-dir", data, "--identity", id))
	}
	both := listen[0] + "," + listen[1]
	gw := start(t, "gateway", "--control-plane", both, "--token", token("spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"),
		"--port", "8443="+gwPort, "--admin", "", "--ready", ready,
		"--resolve", "www.google.com:443="+ext.Addr(), "--upstream-ca", ext.CAFile)
	// The flag repeated is the same as the comma list.
	ppc := start(t, "sidecar", "--control-plane", listen[0], "--control-plane", listen[1],
		"--token", token("spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"), "--listen", pp)
	rvc := start(t, "sidecar", "--control-plane", both, "--token", token("spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"), "--listen", rv)
	logs := func() string {
		return "control plane 0:\n" + tail(cps[0].err.String()) + "\ncontrol plane 1:\n" + tail(cps[1].err.String()) +
			"\ngateway:\n" + tail(gw.err.String()+gw.out.String()) +
			"\nproductpage:\n" + tail(ppc.err.String()) + "\nreviews:\n" + tail(rvc.err.String())
	}
	eventually(t, pp, "http://www.google.com/", 200, logs)
	eventually(t, rv, "http://www.google.com/", 403, logs)
	first := allSynced(t, admin[0], 3)

	l := startLoad(pp, "http://www.google.com/")
	// stopAndFailOver stops control plane from under load; every proxy must be SYNCED on control plane
	// to with the versions it acknowledged on from, and traffic keeps flowing meanwhile.
	stopAndFailOver := func(from, to int, held controlplane.Status) controlplane.Status {
		t.Helper()
		cps[from].stop(t)
		if statusOrNil(admin[from]) != nil {
			t.Fatalf("control plane %d still answers after it was stopped", from)
		}
		after := allSynced(t, admin[to], 3)
		for _, name := range []string{gw1, "bookinfo/productpage", "bookinfo/reviews"} {
			if a, b := acked(held, name), acked(after, name); a == "" || a != b {
				t.Errorf("%s acknowledged %s on control plane %d and %s on control plane %d: the versions differ", name, a, from, b, to)
			}
		}
		okBefore := l.ok.Load()
		meshtest.WaitFor(t, func() bool { return l.ok.Load() > okBefore+20 })
		return after
	}
	second := stopAndFailOver(0, 1, first)
	// egret status on the survivor shows every proxy.
	if table := egret(t, "status", "--admin", admin[1]); strings.Count(table, "SYNCED") != 3 {
		t.Errorf("egret status on the second control plane:\n%s\n%s", table, logs())
	}

	cps[0] = start(t, cpArgs(0)...) // restarted on the same inputs
	deadline := time.Now().Add(20 * time.Second)
	for statusOrNil(admin[0]) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("control plane 0 did not restart:\n%s", tail(cps[0].err.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopAndFailOver(1, 0, second)

	// The restarted one serves changes too.
	meshtest.Edit(t, dir, policy, allowOne, allowBoth)
	eventually(t, rv, "http://www.google.com/", 200, logs)
	l.stop(t)
	cps[0].stop(t)
	gw.stop(t)
	ppc.stop(t)
	rvc.stop(t)
}
