package splice

import (
	"context"
	"io"
	"testing"
)

// BenchmarkJoinTCP measures one-way throughput client → splice → server on
// loopback TCP (three kernel hops, two of them through the copy loop).
func BenchmarkJoinTCP(b *testing.B) {
	c := newChain(b, context.Background(), nil)
	go io.Copy(io.Discard, c.server)
	chunk := make([]byte, 256<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.client.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}
