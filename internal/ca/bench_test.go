package ca_test

import (
	"testing"

	"egret.dev/egret/internal/ca"
)

// BenchmarkSignCSR measures SVID issuance: parse and check a CSR, sign a P-256 leaf.
func BenchmarkSignCSR(b *testing.B) {
	c, err := ca.New(ca.Params{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	csr := makeCSR(b, newKey(b), csrSpec{uris: []string{idA.String()}})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.SignCSR(csr, idA, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "svids/s")
}

// BenchmarkSignCSRParallel is the same with all cores issuing at once.
func BenchmarkSignCSRParallel(b *testing.B) {
	c, err := ca.New(ca.Params{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	csr := makeCSR(b, newKey(b), csrSpec{uris: []string{idA.String()}})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SignCSR(csr, idA, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "svids/s")
}
