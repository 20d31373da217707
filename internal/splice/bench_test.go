package splice

import (
	"context"
	"io"
	"net"
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

// BenchmarkDirectTCP is the baseline: the same writes straight to the
// server over one loopback connection, no splice in between.
func BenchmarkDirectTCP(b *testing.B) {
	ln := listen(b)
	ch := accept(b, ln)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	server := <-ch
	defer server.Close()
	go io.Copy(io.Discard, server)
	chunk := make([]byte, 256<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}
