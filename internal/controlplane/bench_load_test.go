package controlplane

import (
	"context"
	"testing"
	"time"

	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

// BenchmarkFleetLoad times one reload of the fleet benchmark's directory: decode, then translate.
func BenchmarkFleetLoad(b *testing.B) {
	dir := writeFleetResources(b, 100)
	d := file.NewDir(dir, file.Options{})
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		snap, _ := d.Load(context.Background())
		t1 := time.Now()
		res := translate.Translate(snap)
		b.Logf("decode %v, translate %v (%d services)", t1.Sub(t0), time.Since(t1), len(res.Plan.Services))
	}
}
