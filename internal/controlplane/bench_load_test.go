package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
	"egret.dev/egret/internal/xds"
)

// BenchmarkFleetLoad times reloads of the fleet benchmark's directory: decode, then translate; the first
// reads every file, and the delta xDS resources are updated (cut, converted, encoded once), each later one follows one added file (the others are not decoded again).
func BenchmarkFleetLoad(b *testing.B) {
	dir := writeFleetResources(b, 100)
	d := file.NewDir(dir, file.Options{})
	delta := xds.NewDeltaServer(nil)
	var memo translate.Memo
	for i := 0; i < b.N+1; i++ {
		if i > 0 {
			if err := os.WriteFile(filepath.Join(dir, "20-added.yaml"), []byte(fleetService("added-"+time.Now().Format("150405.000000"))), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		t0, c0 := time.Now(), cpuTime()
		snap, _ := d.Load(context.Background())
		d.Commit()
		t1, c1 := time.Now(), cpuTime()
		res := memo.Translate(snap)
		t2, c2 := time.Now(), cpuTime()
		if err := delta.Update(res.Plan, nil); err != nil {
			b.Fatal(err)
		}
		t3, c3 := time.Now(), cpuTime()
		b.Logf("load %d: decode %v (CPU %v), translate %v (CPU %v), delta xDS update %v (CPU %v) (%d services)", i,
			t1.Sub(t0).Round(time.Millisecond), (c1 - c0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond),
			(c2 - c1).Round(time.Millisecond), t3.Sub(t2).Round(time.Millisecond), (c3 - c2).Round(time.Millisecond), len(res.Plan.Services))
	}
}
