package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
	"egret.dev/egret/internal/xds"
)

// BenchmarkFleetLoad times reloads of the fleet benchmark's directory as the control plane does them:
// decode (only changed files), translate (with the control plane's translate.Memo) and the delta xDS
// update (only changed resources converted and encoded). The first load reads every file; each later
// one follows one added or changed file (a routed ExternalService). Each step's wall time, CPU time
// (getrusage) and bytes allocated are logged; a GC runs before each reload so that one step's garbage is
// not charged to the next.
func BenchmarkFleetLoad(b *testing.B) {
	dir := writeFleetResources(b, 100)
	d := file.NewDir(dir, file.Options{})
	delta := xds.NewDeltaServer(nil)
	var memo translate.Memo
	step := func() (time.Duration, time.Duration, uint64) { // wall, CPU, bytes allocated so far
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return time.Duration(time.Now().UnixNano()), cpuTime(), ms.TotalAlloc
	}
	for i := 0; i < b.N+1; i++ {
		if i > 0 {
			if err := os.WriteFile(filepath.Join(dir, "20-added.yaml"), []byte(fleetService("added-"+time.Now().Format("150405.000000"))), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		t0, c0, a0 := step()
		snap, _ := d.Load(context.Background())
		d.Commit()
		t1, c1, a1 := step()
		res := memo.Translate(snap)
		t2, c2, a2 := step()
		if err := delta.Update(res.Plan, nil); err != nil {
			b.Fatal(err)
		}
		t3, c3, a3 := step()
		ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
		b.Logf("load %d: decode %v (CPU %v, %d MB), translate %v (CPU %v, %d MB), delta xDS update %v (CPU %v, %d MB) (%d services)", i,
			ms(t1-t0), ms(c1-c0), (a1-a0)>>20, ms(t2-t1), ms(c2-c1), (a2-a1)>>20, ms(t3-t2), ms(c3-c2), (a3-a2)>>20, len(res.Plan.Services))
	}
	b.Logf("heap in use after the last reload (after GC): %d MB", heapInUse()>>20)
	runtime.KeepAlive(d)
	runtime.KeepAlive(delta)
	runtime.KeepAlive(&memo)
}
