package e2e

import (
	"egret.dev/egret/internal/meshtest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrafficSurvivesAControlPlaneRestart runs the control plane, a gateway and two sidecars as
// separate commands. The control plane is stopped under load: traffic keeps flowing on the last
// config. A policy edit is made while it is down; restarted on the same address and data directory,
// it is reconnected to by every proxy, which converge on the edited configuration.
func TestTrafficSurvivesAControlPlaneRestart(t *testing.T) {
	ext := google(t)
	dir := meshtest.CopyExample(t, nil)
	data := filepath.Join(t.TempDir(), "data")
	listen, admin, gwAddr, ready := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	pp, rv := freeAddr(t), freeAddr(t)
	_, gwPort, _ := strings.Cut(gwAddr, ":")
	cpArgs := []string{"controlplane", "-f", dir, "--data-dir", data, "--listen", listen, "--admin", admin,
		"--gateway-address", gw1 + "=" + gwAddr}
	cp := start(t, cpArgs...)
	token := func(id string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if st := statusOrNil(admin); st != nil {
				break // listening: the CA's root exists
			}
			if time.Now().After(deadline) {
				t.Fatalf("the control plane did not start:\n%s", cp.err.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return strings.TrimSpace(egret(t, "token", "create", "--data-dir", data, "--identity", id))
	}
	gw := start(t, "gateway", "--control-plane", listen, "--token", token("spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"),
		"--port", "8443="+gwPort, "--admin", "", "--ready", ready,
		"--resolve", "www.google.com:443="+ext.Addr(), "--upstream-ca", ext.CAFile)
	ppc := start(t, "sidecar", "--control-plane", listen, "--token", token("spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"), "--listen", pp)
	rvc := start(t, "sidecar", "--control-plane", listen, "--token", token("spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"), "--listen", rv)
	logs := func() string {
		return "control plane:\n" + tail(cp.err.String()) + "\ngateway:\n" + tail(gw.err.String()+gw.out.String()) +
			"\nproductpage:\n" + tail(ppc.err.String()) + "\nreviews:\n" + tail(rvc.err.String())
	}

	eventually(t, pp, "http://www.google.com/", 200, logs)
	eventually(t, rv, "http://www.google.com/", 403, logs)
	before := allSynced(t, admin, 3)

	l := startLoad(pp, "http://www.google.com/")
	cp.stop(t)
	if statusOrNil(admin) != nil {
		t.Fatal("the control plane still answers after it was stopped")
	}
	// Traffic keeps flowing on the last config while the control plane is away.
	okBefore := l.ok.Load()
	deadline := time.Now().Add(10 * time.Second)
	for l.ok.Load() < okBefore+50 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if l.ok.Load() < okBefore+50 {
		t.Errorf("only %d requests answered while the control plane was down", l.ok.Load()-okBefore)
	}
	code, body, err := get(viaProxy(rv), "http://www.google.com/")
	if err != nil || code != 403 || body != "RBAC: access denied" {
		t.Errorf("reviews while the control plane is down: %d %q %v", code, body, err)
	}
	meshtest.Edit(t, dir, policy, allowOne, allowBoth)

	cp2 := start(t, cpArgs...)
	cp = cp2
	after := allSynced(t, admin, 3)
	if acked(after, gw1) == acked(before, gw1) {
		t.Errorf("the gateway did not converge on the edited policy: still %s", acked(before, gw1))
	}
	eventually(t, rv, "http://www.google.com/", 200, logs)
	l.stop(t)
	for _, p := range after.Proxies {
		if p.CertExpiry.Before(time.Now()) {
			t.Errorf("%s: certificate expired %v", p.Name, p.CertExpiry)
		}
	}
	// egret status (the table) shows every proxy in sync.
	table := egret(t, "status", "--admin", admin)
	if strings.Count(table, "SYNCED") != 3 {
		t.Errorf("egret status:\n%s", table)
	}
	cp2.stop(t)
	gw.stop(t)
	ppc.stop(t)
	rvc.stop(t)
}
