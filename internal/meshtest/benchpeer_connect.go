package meshtest

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// PeerClientConnect: the stand-in is api.example.com:443 (HTTPS, 1 KiB body) and the client uses the
// target as its HTTPS proxy: it opens a CONNECT tunnel through it and speaks TLS to the stand-in
// inside, verifying it, as a workload with HTTPS_PROXY does and as the load harness's
// egret-connect and smokescreen-connect scenarios do. Each of the BenchPeerConcurrency clients keeps
// its tunnel and sends every request through it (keep-alive), so a run measures the byte relay, not
// the CONNECT handshake.
const PeerClientConnect = "client-connect"

// PeerClientConnectNew is PeerClientConnect with a new tunnel for every request (no keep-alive): a
// run measures what a tunnel costs the proxy to open, decide, log and close, besides its relay.
const PeerClientConnectNew = "client-connect-new"

func isConnectRole(role string) bool {
	return role == PeerClientConnect || role == PeerClientConnectNew
}

// BenchTunnelHost is the stand-in's name in PeerClientConnect.
const BenchTunnelHost = "api.example.com"

// BenchDirectTunnel is the resources that let a sidecar open CONNECT tunnels to BenchTunnelHost:443
// itself (no egress route), reaching the stand-in at addr through an ExternalEndpoint.
func BenchDirectTunnel(addr string) string {
	ap := netip.MustParseAddrPort(addr)
	return fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: bench-tunnel, namespace: bookinfo}
spec:
  hosts: [%s]
  selector: {bench: tunnel}
  ports:
  - {name: tls, number: 443, protocol: TLS, targetPort: {name: tls}}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: bench-tunnel, namespace: bookinfo, labels: {bench: tunnel}}
spec:
  address: %s
  ports: [{name: tls, number: %d}]
`, BenchTunnelHost, ap.Addr(), ap.Port())
}

// connectClient is PeerClientConnect's client: HTTPS through the proxy at addr, HTTP/1.1 inside the
// tunnel, the stand-in verified against its CA.
func connectClient(ext *External, addr string, newTunnels bool) *http.Client {
	u, _ := url.Parse("http://" + addr)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:               http.ProxyURL(u),
		TLSClientConfig:     &tls.Config{RootCAs: ext.Roots(), ServerName: BenchTunnelHost, NextProtos: []string{"http/1.1"}},
		MaxIdleConnsPerHost: BenchPeerConcurrency,
		DisableKeepAlives:   newTunnels,
	}}
}
