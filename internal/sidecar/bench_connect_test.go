package sidecar_test

import (
	"context"
	"testing"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// BenchmarkConnectAlone is the load harness's egret-connect path with the sidecar alone in this
// process: 16 workloads in the peer each open one CONNECT tunnel through the sidecar (explicit mode) to
// api.example.com:443, which the sidecar dials itself (a direct service, its ExternalEndpoint the
// stand-in), and send every HTTPS request (TLS end to end, 1 KiB body) through that tunnel. What is
// timed is the byte relay; the CONNECT and the TLS handshakes happen in the warm-up.
//
//	go test ./internal/sidecar -run '^$' -bench 'Connect.*Alone' -benchmem -benchtime 20000x -count 3
func BenchmarkConnectAlone(b *testing.B) { benchConnectAlone(b, meshtest.PeerClientConnect) }

// BenchmarkConnectNewTunnelAlone is BenchmarkConnectAlone with a new tunnel for every request: the
// CONNECT's parse, decision, dial, hijack, relay of the TLS handshake and log line, per request.
func BenchmarkConnectNewTunnelAlone(b *testing.B) {
	benchConnectAlone(b, meshtest.PeerClientConnectNew)
}

func benchConnectAlone(b *testing.B, role string) {
	m := meshtest.NewMesh(b)
	dir := b.TempDir()
	meshtest.WriteBenchCerts(b, m, dir, map[string]string{})
	peer := meshtest.StartBenchPeer(b, "TestBenchPeer", role, dir)
	up := peer.Expect("upstream")
	sc := startSidecarWith(b, m, meshtest.SidecarConfig(b, "bookinfo", "productpage", map[string]string{}, meshtest.BenchDirectTunnel(up[0])), discardLogs)
	peer.Send("target %s", sc.addr)
	peer.Run()
}

// BenchmarkConnectTwoHopAlone is egret's CONNECT path through its gateway, both proxies in this
// process: the peer's workloads open CONNECT tunnels to api.example.com:443 through the sidecar, which
// carries each as an HTTP/2 CONNECT stream over mTLS to the gateway (the tunnels listener, 15443), which
// checks the caller, the host and the ClientHello's SNI and relays the stream to the stand-in over TCP.
// TLS stays end to end, as in BenchmarkConnectAlone.
func BenchmarkConnectTwoHopAlone(b *testing.B) {
	m := meshtest.NewMesh(b)
	dir := b.TempDir()
	meshtest.WriteBenchCerts(b, m, dir, map[string]string{})
	peer := meshtest.StartBenchPeer(b, "TestBenchPeer", meshtest.PeerClientConnect, dir)
	up := peer.Expect("upstream")
	p := meshtest.BenchGatewayParams(m.ServerTLS(meshtest.GatewaySVID), up[0], up[1])
	p.PortOverrides[meshtest.TunnelTargetPort] = 0
	p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{meshtest.BenchTunnelHost + ":443": up[0]}})
	gw, err := gateway.New(p, meshtest.SeedConfig(b, meshtest.TunnelResources))
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Shutdown(context.Background()) })
	addrs := tunnelGatewayAddrs(gw)
	sc := startSidecarWith(b, m, meshtest.SidecarConfig(b, "bookinfo", "productpage", addrs, meshtest.TunnelResources), discardLogs)
	peer.Send("target %s", sc.addr)
	peer.Run()
}
