package meshtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/gateway"
)

// A bench peer is a child process that holds everything of a data-path benchmark except the proxy
// under measurement: the load (the workload's client), the HTTPS stand-in for the external host and,
// when the sidecar is measured, the gateway. The benchmark's own process then holds only the proxy,
// so `go test -bench -benchmem` reports that proxy's bytes and allocations per request, not the
// client's or the upstream's.
//
// The parent writes the certificates the peer needs into a directory, starts the peer with
// StartBenchPeer and talks to it one line at a time:
//
//	peer → "upstream ADDR CAFILE"     the stand-in for www.google.com:443 (1 KiB body) is up
//	peer → "gateway ADDR"             (role gateway) the peer's own gateway is up, its upstream the stand-in
//	parent → "target ADDR"            where the load goes: the gateway (mTLS, HTTP/2) or the sidecar (HTTP proxy)
//	parent → "run N"                  N requests over BenchPeerConcurrency keep-alive clients
//	peer → "done" | "error TEXT"
const (
	// BenchPeerConcurrency is the number of concurrent clients a bench peer runs.
	BenchPeerConcurrency = 16
	benchPeerEnv         = "EGRET_BENCH_PEER"
	// BenchBodyBytes is the stand-in's response body, as in the load harness.
	BenchBodyBytes = 1024
)

// Bench peer roles: what the peer runs besides the upstream, and how its client speaks.
const (
	// PeerClientMTLS: the client speaks HTTP/2 over mTLS to a gateway (as a sidecar does), with the
	// productpage SVID in the directory (client.pem, client-key.pem), verifying the gateway's SPIFFE ID.
	PeerClientMTLS = "client-mtls"
	// PeerClientProxy: the client uses the target as its HTTP proxy (HTTP/1.1, keep-alive), as a
	// workload with HTTP_PROXY does.
	PeerClientProxy = "client-proxy"
	// PeerGatewayAndClientProxy: the peer also runs the seed's gateway, with the gateway SVID in the
	// directory (gateway.pem, gateway-key.pem); the client uses the target as its HTTP proxy.
	PeerGatewayAndClientProxy = "gateway+client-proxy"
)

// BenchPeer is the parent's handle on a running peer.
type BenchPeer struct {
	b   *testing.B
	in  io.WriteCloser
	out *bufio.Reader
}

// WriteBenchCerts writes the mesh root (root.pem) and an SVID for each name → SPIFFE ID into dir, as
// NAME.pem and NAME-key.pem.
func WriteBenchCerts(t testing.TB, m *Mesh, dir string, ids map[string]string) {
	t.Helper()
	writePEMFile(t, filepath.Join(dir, "root.pem"), "CERTIFICATE", m.CA.Root().Raw)
	for name, id := range ids {
		cert := m.SVID(id, 100*time.Hour)
		writePEMFile(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", cert.Certificate[0])
		der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEMFile(t, filepath.Join(dir, name+"-key.pem"), "PRIVATE KEY", der)
	}
}

func writePEMFile(t testing.TB, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartBenchPeer runs this test binary's helperTest as a bench peer with role, reading certificates
// from dir. The package must have a test named helperTest that calls RunBenchPeer.
func StartBenchPeer(b *testing.B, helperTest, role, dir string) *BenchPeer {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helperTest+"$", "-test.v=false")
	cmd.Env = append(os.Environ(), benchPeerEnv+"="+role, "EGRET_BENCH_PEER_DIR="+dir)
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	return &BenchPeer{b: b, in: in, out: bufio.NewReader(out)}
}

// Expect reads the peer's next line, which must start with word, and returns its fields after it.
func (p *BenchPeer) Expect(word string) []string {
	p.b.Helper()
	for {
		line, err := p.out.ReadString('\n')
		if err != nil {
			p.b.Fatalf("bench peer: %v (last %q)", err, line)
		}
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "PASS" || f[0] == "ok" || strings.HasPrefix(f[0], "===") {
			continue
		}
		if f[0] != word {
			p.b.Fatalf("bench peer said %q, want %s", strings.TrimSpace(line), word)
		}
		return f[1:]
	}
}

// Send writes one command line to the peer.
func (p *BenchPeer) Send(format string, args ...any) {
	p.b.Helper()
	if _, err := fmt.Fprintf(p.in, format+"\n", args...); err != nil {
		p.b.Fatal(err)
	}
}

// Run warms the path (untimed), then times b.N requests sent by the peer.
func (p *BenchPeer) Run() {
	p.b.Helper()
	p.Send("run %d", 200)
	p.Expect("done")
	p.b.ReportAllocs()
	cpu, csw := processCPU()
	p.b.ResetTimer()
	p.Send("run %d", p.b.N)
	p.Expect("done")
	p.b.StopTimer()
	// CPU time of this process (the proxy alone: the load runs in the peer) per request, user +
	// system, garbage collection included: less sensitive than ns/op to what else the machine runs.
	cpu2, csw2 := processCPU()
	p.b.ReportMetric(float64(cpu2-cpu)/float64(p.b.N), "cpu-ns/op")
	// Context switches of this process's threads (voluntary and not) per request: a goroutine handing
	// work to another often wakes a parked thread.
	p.b.ReportMetric(float64(csw2-csw)/float64(p.b.N), "ctxsw/op")
}

// processCPU is this process's user + system CPU time so far, and its threads' context switches.
func processCPU() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Nvcsw + ru.Nivcsw
}

// BenchGatewayParams is a gateway whose upstream for www.google.com:443 is the stand-in at upstream
// (with its CA in caFile), whose access log goes to io.Discard and whose own log is discarded.
func BenchGatewayParams(tlsConf *tls.Config, upstream, caFile string) gateway.Params {
	return gateway.Params{
		Address:       "127.0.0.1",
		PortOverrides: map[uint32]uint32{8443: 0},
		TLS:           tlsConf,
		Access:        accesslog.New(io.Discard, accesslog.FormatJSON),
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTP2Server:   os.Getenv("EGRET_BENCH_HTTP2_SERVER"), // "" (egret), "egret" or "x/net", for A/B runs
		Upstream: gateway.NewUpstream(gateway.UpstreamParams{
			Resolver:       StaticResolver{"www.google.com": netip.MustParseAddr("127.0.0.1")},
			Overrides:      map[string]string{"www.google.com:443": upstream},
			ExtraRootsFile: caFile,
		}),
	}
}

// RunBenchPeer is the body of the peer process; in a normal test run (no peer role in the
// environment) it skips.
func RunBenchPeer(t *testing.T) {
	role := os.Getenv(benchPeerEnv)
	if role == "" {
		t.Skip("only runs as a benchmark's peer process")
	}
	dir := os.Getenv("EGRET_BENCH_PEER_DIR")
	body := strings.Repeat("x", BenchBodyBytes)
	host := "www.google.com"
	if isConnectRole(role) {
		host = BenchTunnelHost
	}
	// HTTP/1.1 only, as the harness's upstream (../shared/bench/upstream without -h2).
	ext := NewExternalHTTP1(t, host, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	})
	fmt.Printf("upstream %s %s\n", ext.Addr(), ext.CAFile)
	pool := x509.NewCertPool()
	rootPEM, err := os.ReadFile(filepath.Join(dir, "root.pem"))
	if err != nil || !pool.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("root: %v", err)
	}
	load := func(name string) tls.Certificate {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if role == PeerGatewayAndClientProxy {
		gw := startBenchGateway(t, load("gateway"), pool, ext)
		defer gw.Shutdown(context.Background())
		fmt.Printf("gateway %s\n", gw.Addr(8443))
	}
	in := bufio.NewScanner(os.Stdin)
	var c *http.Client
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 2 && f[0] == "target":
			c = benchPeerClient(t, role, f[1], pool, load, ext)
		case len(f) == 2 && f[0] == "run" && c != nil:
			n, _ := strconv.Atoi(f[1])
			if err := runLoad(c, benchPeerURL(role), n); err != nil {
				fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
				continue
			}
			fmt.Println("done")
		default:
			fmt.Printf("error unknown command %q\n", in.Text())
		}
	}
}

// startBenchGateway starts the seed's gateway in the peer process, for benchmarks that measure a sidecar alone.
func startBenchGateway(t *testing.T, cert tls.Certificate, pool *x509.CertPool, ext *External) *gateway.Gateway {
	p := BenchGatewayParams(&tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	}, ext.Addr(), ext.CAFile)
	gw, err := gateway.New(p, SeedConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	return gw
}

// benchPeerClient is the peer's client of the measured proxy at target, as role says.
func benchPeerClient(t *testing.T, role, target string, pool *x509.CertPool, load func(string) tls.Certificate, ext *External) *http.Client {
	switch role {
	case PeerClientMTLS:
		cert := load("client")
		return (&Mesh{T: t, Pool: pool}).ClientWith(&cert, target, true)
	case PeerClientConnect, PeerClientConnectNew:
		return connectClient(ext, target, role == PeerClientConnectNew)
	default:
		u, _ := url.Parse("http://" + target)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			Proxy: http.ProxyURL(u), MaxIdleConnsPerHost: BenchPeerConcurrency,
		}}
	}
}

// benchPeerURL is what role's client asks for.
func benchPeerURL(role string) string {
	switch role {
	case PeerClientConnect, PeerClientConnectNew:
		return "https://" + BenchTunnelHost + "/"
	case PeerClientMTLS:
		return "https://www.google.com/"
	default:
		return "http://www.google.com/"
	}
}

// runLoad sends n GETs over BenchPeerConcurrency workers; each must answer 200 with the whole body.
func runLoad(c *http.Client, url string, n int) error {
	var next sync.Mutex
	left := n
	var first error
	var wg sync.WaitGroup
	for range BenchPeerConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				if left == 0 || first != nil {
					next.Unlock()
					return
				}
				left--
				next.Unlock()
				err := getBody(c, url)
				if err != nil {
					next.Lock()
					if first == nil {
						first = err
					}
					next.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func getBody(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || n != BenchBodyBytes {
		return fmt.Errorf("status %d, %d bytes", resp.StatusCode, n)
	}
	return nil
}
