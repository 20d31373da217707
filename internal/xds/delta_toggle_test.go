package xds_test

import (
	"egret.dev/egret/internal/xds"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// A resource that changes back to contents it had before (an edit undone, a policy toggled) gets its
// old version again: each proxy must still be sent it, every time.
func TestAChangeBackToEarlierContentsIsSentEachTime(t *testing.T) {
	m := meshtest.NewMesh(t)
	without, with := meshtest.Plan(t), meshtest.Plan(t, addedService)
	d := xds.NewDeltaServer(nil)
	if err := d.Update(without, nil); err != nil {
		t.Fatal(err)
	}
	addr := startDelta(t, m, d)
	var sc, gw lastMsg
	runDelta(t, m, addr, ppID, xds.KindSidecar, &sc)
	runDelta(t, m, addr, gwID, xds.KindGateway, &gw)
	meshtest.WaitFor(t, func() bool { return deltaState(d, ppID) == "SYNCED" && deltaState(d, gwID) == "SYNCED" })
	for i := 0; i < 6; i++ {
		plan, want := with, len(without.Services)+1
		if i%2 == 1 {
			plan, want = without, len(without.Services)
		}
		if err := d.Update(plan, nil); err != nil {
			t.Fatal(err)
		}
		v, _ := d.VersionFor(ppID)
		meshtest.WaitFor(t, func() bool {
			s, _ := sc.last()
			return len(s.Sidecar.Plan.Services) == want && s.Version == v && deltaState(d, ppID) == "SYNCED"
		})
	}
	if _, n := sc.last(); n != 7 {
		t.Errorf("the sidecar applied %d configs, want 7", n)
	}
}
