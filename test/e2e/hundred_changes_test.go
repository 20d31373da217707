package e2e

import (
	"egret.dev/egret/internal/meshtest"
	"testing"
	"time"
)

// TestAHundredPolicyChangesUnderLoadFailNoRequest toggles the AccessPolicy 100 times under egret up,
// waiting for the gateway to acknowledge each version, while productpage calls in a loop.
func TestAHundredPolicyChangesUnderLoadFailNoRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("100 changes take about a minute")
	}
	ext := google(t)
	dir := meshtest.CopyExample(t, nil)
	p, admin := up(t, dir, ext)
	logs := func() string { return p.out.String() + p.err.String() }
	pp, rv := p.nets.SidecarAddr(1), p.nets.SidecarAddr(2)
	eventually(t, pp, "http://www.google.com/", 200, logs)
	prev := acked(allSynced(t, admin, 4), gw1)

	l := startLoad(pp, "http://www.google.com/")
	from, to := allowOne, allowBoth
	begin := time.Now()
	for i := 0; i < 100; i++ {
		meshtest.Edit(t, dir, policy, from, to)
		from, to = to, from
		deadline := time.Now().Add(20 * time.Second)
		for {
			st := status(t, admin)
			if v := acked(st, gw1); v != "" && v != prev {
				prev = v
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("change %d was not acknowledged by the gateway; logs:\n%s", i+1, tail(logs()))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("100 changes applied in %v", time.Since(begin))
	l.stop(t)
	// An even number of toggles: reviews is denied again, and everything is in sync.
	eventually(t, rv, "http://www.google.com/", 403, logs)
	allSynced(t, admin, 4)
	p.stop(t)
}
