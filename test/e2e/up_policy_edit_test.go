package e2e

import (
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
)

// TestUpAppliesAnAccessPolicyEditWithoutRestartOrFailedRequest is the "done when": egret up on
// a copy of the example; productpage is allowed and reviews denied through their sidecars; editing
// the AccessPolicy file to allow reviews changes the answer while productpage's traffic keeps flowing.
func TestUpAppliesAnAccessPolicyEditWithoutRestartOrFailedRequest(t *testing.T) {
	ext := google(t)
	dir := meshtest.CopyExample(t, nil)
	p, admin := up(t, dir, ext)
	logs := func() string { return p.out.String() + p.err.String() }
	pp, rv := p.nets.SidecarAddr(1), p.nets.SidecarAddr(2)

	eventually(t, pp, "http://www.google.com/", 200, logs)
	eventually(t, rv, "http://www.google.com/", 403, logs) // the sidecars start side by side
	code, body, err := get(viaProxy(rv), "http://www.google.com/")
	if err != nil || code != 403 || body != "RBAC: access denied" {
		t.Fatalf("reviews before the edit: %d %q %v", code, body, err)
	}
	st := allSynced(t, admin, 4)
	// The banner follows once every listener is open, which may be a moment after the configs are ACKed.
	wants := []string{p.nets.GatewayIP(1), p.nets.GatewayIP(2), gw1, gw2, "HTTP_PROXY=http://" + pp, "HTTP_PROXY=http://" + rv}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); sleep() {
		if out := p.out.String(); strings.Contains(out, "egret status --admin") {
			break
		}
	}
	out := p.out.String()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("up did not print %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(p.err.String()), "\n") {
		if strings.HasPrefix(line, "{") && !strings.Contains(line, `"component":`) {
			t.Errorf("a log line without a component: %s", line)
			break
		}
	}

	l := startLoad(pp, "http://www.google.com/")
	meshtest.Edit(t, dir, policy, allowOne, allowBoth)
	took := eventually(t, rv, "http://www.google.com/", 200, logs)
	after := allSynced(t, admin, 4)
	l.stop(t)
	t.Logf("reviews allowed %v after the edit was written", took)
	if acked(after, gw1) == acked(st, gw1) {
		t.Errorf("the cluster1 gateway still acknowledges version %s", acked(st, gw1))
	}
	for _, name := range []string{"bookinfo/productpage", "bookinfo/reviews"} {
		if acked(after, name) != acked(st, name) {
			t.Errorf("sidecar %s was sent a new config for a policy edit", name)
		}
	}

	// And back: reviews is denied again.
	meshtest.Edit(t, dir, policy, allowBoth, allowOne)
	eventually(t, rv, "http://www.google.com/", 403, logs)
	p.stop(t)
}
