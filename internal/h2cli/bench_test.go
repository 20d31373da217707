package h2cli_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// BenchmarkRoundTrip is one 1 KiB GET over a pooled mTLS connection to x/net's server on loopback, by
// h2cli and by x/net's own client (the server's share is the same in both).
//
//	go test ./internal/h2cli -run '^$' -bench RoundTrip -benchmem
func BenchmarkRoundTrip(b *testing.B) {
	p := newTLSPair(b)
	body := strings.Repeat("a", 1024)
	addr := startServer(b, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }), nil)
	xnet := &http2.Transport{
		TLSClientConfig: p.client,
		DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
			return newTransport(b, p, addr).Dial(ctx)
		},
	}
	b.Cleanup(xnet.CloseIdleConnections)
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"egret", newTransport(b, p, addr)}, {"x-net", xnet}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 2048)
				for pb.Next() {
					req, _ := http.NewRequest("GET", "https://bench.example.com/", nil)
					resp, err := tc.rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					for {
						if _, err := resp.Body.Read(buf); err != nil {
							break
						}
					}
					resp.Body.Close()
				}
			})
		})
	}
}
