package controlplane

import (
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// A policy edited back and forth (the e2e suite's hundred changes) reaches the gateway each time, even
// when a change comes before the gateway acknowledged the one before.
func TestAPolicyToggledBackAndForthReachesTheGatewayEachTime(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	cp := startCP(t, dir)
	gw := connect(t, cp, gw1ID)
	meshtest.WaitFor(t, func() bool { return len(gw.applied()) == 1 })
	from, to := "          name: bookinfo-productpage\n", "          name: bookinfo-productpage\n      - serviceAccountSelector:\n          name: bookinfo-reviews\n"
	for i := 0; i < 6; i++ {
		before, _ := cp.VersionFor(gw1ID)
		meshtest.Edit(t, dir, policy, from, to)
		from, to = to, from
		var want string
		meshtest.WaitFor(t, func() bool { want, _ = cp.VersionFor(gw1ID); return want != before })
		meshtest.WaitFor(t, func() bool {
			got := gw.applied()
			return got[len(got)-1] == want
		})
	}
}
