package sidecar_test

import (
	"io"
	"net/http"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// The sidecar hop, in the gateway's harness: an unmodified client using the sidecar as its HTTP proxy
// (HTTP/1.1, keep-alive) → sidecar → HTTP/2 over mTLS → gateway → TLS → stand-in. Compare with the
// gateway package's BenchmarkHTTPOrigination (client → gateway directly) for the sidecar's share.
//
//	go test ./internal/sidecar -run '^$' -bench . -benchmem -count 5
func BenchmarkThroughSidecar(b *testing.B) {
	m := meshtest.NewMesh(b)
	ext := meshtest.NewExternal(b, "www.google.com", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	g := meshtest.StartGateway(b, m, meshtest.SeedConfig(b), ext, nil)
	sc := startSidecar(b, m, meshtest.SidecarConfig(b, "bookinfo", "productpage", map[string]string{gw1: g.Addr}))
	c := viaProxy(sc.addr)
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	meshtest.GetInParallel(b, c, "http://www.google.com/")
}
