package sidecar_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/sidecar"
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

// BenchmarkSidecarAlone is the sidecar's own cost per request on the seed's path: the workload's client
// (explicit HTTP proxy, keep-alive), the gateway and the HTTPS stand-in (1 KiB body) run in a peer
// process, so this process holds only the sidecar (HTTP in, HTTP/2 over mTLS out) and -benchmem
// reports the sidecar's bytes and allocations per request.
//
//	go test ./internal/sidecar -run '^$' -bench Alone -benchmem -count 5
func BenchmarkSidecarAlone(b *testing.B) {
	m := meshtest.NewMesh(b)
	dir := b.TempDir()
	meshtest.WriteBenchCerts(b, m, dir, map[string]string{"gateway": meshtest.GatewaySVID})
	peer := meshtest.StartBenchPeer(b, "TestBenchPeer", meshtest.PeerGatewayAndClientProxy, dir)
	peer.Expect("upstream")
	gwAddr := peer.Expect("gateway")[0]
	sc := startSidecarWith(b, m, meshtest.SidecarConfig(b, "bookinfo", "productpage", map[string]string{gw1: gwAddr}), discardLogs)
	peer.Send("target %s", sc.addr)
	peer.Run()
}

// BenchmarkTwoHopAlone is both proxies of the seed's path in this process (sidecar → HTTP/2 over mTLS →
// gateway → TLS origination), the client and the stand-in in the peer: what the load harness's
// egret-2hop-mtls scenario counts as "proxy".
func BenchmarkTwoHopAlone(b *testing.B) {
	m := meshtest.NewMesh(b)
	dir := b.TempDir()
	meshtest.WriteBenchCerts(b, m, dir, map[string]string{})
	peer := meshtest.StartBenchPeer(b, "TestBenchPeer", meshtest.PeerClientProxy, dir)
	up := peer.Expect("upstream")
	gw, err := gateway.New(meshtest.BenchGatewayParams(m.ServerTLS(meshtest.GatewaySVID), up[0], up[1]), meshtest.SeedConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Shutdown(context.Background()) })
	sc := startSidecarWith(b, m, meshtest.SidecarConfig(b, "bookinfo", "productpage", map[string]string{gw1: gw.Addr(8443)}), discardLogs)
	peer.Send("target %s", sc.addr)
	peer.Run()
}

// discardLogs sends the sidecar's logs where the load harness sends them: nowhere. It also picks the
// HTTP/2 client from EGRET_BENCH_HTTP2_CLIENT ("egret" or "x/net"), so one test binary runs an A/B.
func discardLogs(p *sidecar.Params) {
	p.HTTP2Client = os.Getenv("EGRET_BENCH_HTTP2_CLIENT")
	p.Access = accesslog.New(io.Discard, accesslog.FormatJSON)
	p.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestBenchPeer is the peer process of the *Alone benchmarks; it does nothing in a normal test run.
func TestBenchPeer(t *testing.T) { meshtest.RunBenchPeer(t) }
