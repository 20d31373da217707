package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// The gateway's data path, measured in-process on loopback: a mesh client with an SVID speaking
// HTTP/2 over mTLS to the gateway, which originates TLS to a local HTTPS stand-in. BenchmarkDirect is
// the same client calling the stand-in itself, so the difference is the gateway hop.
//
//	go test ./internal/gateway -run '^$' -bench . -benchmem -count 5

func BenchmarkHTTPOrigination(b *testing.B) {
	m := meshtest.NewMesh(b)
	ext := meshtest.NewExternal(b, "www.google.com", hello)
	gw := meshtest.StartGateway(b, m, meshtest.SeedConfig(b), ext, nil)
	c := m.Client(meshtest.Productpage, gw.Addr)
	meshtest.GetInParallel(b, c, "https://www.google.com/")
}

func BenchmarkDirect(b *testing.B) {
	ext := meshtest.NewExternal(b, "www.google.com", hello)
	pem, _ := os.ReadFile(ext.CAFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "www.google.com"},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, ext.Addr())
		},
	}}
	meshtest.GetInParallel(b, c, "https://www.google.com/")
}

// BenchmarkTunnel is the opaque path: one CONNECT stream, the caller's own TLS handshake with the host
// through it, one request, close.
func BenchmarkTunnel(b *testing.B) {
	m := meshtest.NewMesh(b)
	_, ext, addr := StartTunnels(b, m)
	cert := m.SVID(meshtest.Productpage, time.Hour)
	tr := &http2.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, m.Pool, meshtest.GatewaySVID) },
	}, DialTLS: func(network, _ string, cfg *tls.Config) (net.Conn, error) { return tls.Dial(network, addr, cfg) }}
	pem, _ := os.ReadFile(ext.CAFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest(http.MethodConnect, "https://api.example.com:443", pr)
		req.Host = "api.example.com:443"
		resp, err := tr.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err)
		}
		tc := tls.Client(&pipeConn{r: resp.Body, w: pw}, &tls.Config{ServerName: "api.example.com", RootCAs: roots})
		if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n"); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(tc); err != nil {
			b.Fatal(err)
		}
		tc.Close()
	}
}

// BenchmarkIdleConnectionMemory opens idle HTTP/2 mTLS connections from sidecars, held by a child
// process so that only the gateway's side is in this process, and reports the heap the gateway holds
// per connection. EGRET_HEAP_PROFILE=FILE writes a heap profile at the moment of measurement.
func BenchmarkIdleConnectionMemory(b *testing.B) {
	const n = 1000
	if os.Getenv("EGRET_HEAP_PROFILE") != "" {
		runtime.MemProfileRate = 256 // a profile fine enough to say what one connection holds
	}
	m := meshtest.NewMesh(b)
	ext := meshtest.NewExternal(b, "www.google.com", hello)
	gw := meshtest.StartGateway(b, m, meshtest.SeedConfig(b), ext, func(p *gateway.Params) {
		p.HTTP2Server = os.Getenv("EGRET_BENCH_HTTP2_SERVER") // for A/B runs of the HTTP/2 engines
	})
	dir := b.TempDir()
	cert := m.SVID(meshtest.Productpage, time.Hour)
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writePEM(b, certFile, "CERTIFICATE", cert.Certificate[0])
	kder, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	writePEM(b, keyFile, "PRIVATE KEY", kder)

	beforeHeap, beforeStack := memInUse()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$")
	cmd.Env = append(os.Environ(), "EGRET_IDLE_CLIENTS="+strconv.Itoa(n), "EGRET_IDLE_ADDR="+gw.Addr, "EGRET_IDLE_CERT="+certFile, "EGRET_IDLE_KEY="+keyFile)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "open ") {
		b.Fatalf("child: %q", line)
	}
	time.Sleep(300 * time.Millisecond) // let the server finish each connection's HTTP/2 setup
	afterHeap, afterStack := memInUse()
	if f := os.Getenv("EGRET_HEAP_PROFILE"); f != "" {
		out, _ := os.Create(f)
		_ = pprof.WriteHeapProfile(out)
		out.Close()
	}
	b.ReportMetric(float64(afterHeap+afterStack-beforeHeap-beforeStack)/n, "B/idle-conn")
	b.ReportMetric(float64(afterHeap-beforeHeap)/n, "heap-B/idle-conn")
	b.ReportMetric(float64(afterStack-beforeStack)/n, "stack-B/idle-conn")
	stdin.Close()
	_ = cmd.Wait()
	for i := 0; i < b.N; i++ {
	}
}

// TestIdleClientsHelper is the child process of BenchmarkIdleConnectionMemory; it does nothing in a
// normal test run.
func TestIdleClientsHelper(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EGRET_IDLE_CLIENTS"))
	if n == 0 {
		t.Skip("only runs as BenchmarkIdleConnectionMemory's child process")
	}
	cert, err := tls.LoadX509KeyPair(os.Getenv("EGRET_IDLE_CERT"), os.Getenv("EGRET_IDLE_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*tls.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := tls.Dial("tcp", os.Getenv("EGRET_IDLE_ADDR"), &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, http2.ClientPreface)
		http2.NewFramer(c, c).WriteSettings()
		conns = append(conns, c)
	}
	fmt.Printf("open %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
}

func writePEM(b *testing.B, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConcurrentStreams holds 10,000 requests open at once through the gateway (100 connections
// × 100 streams, the upstream answering only when all are in) and reports heap per stream.
func BenchmarkConcurrentStreams(b *testing.B) {
	const conns, per = 100, 100
	m := meshtest.NewMesh(b)
	var arrived, finished atomic.Int64
	var mu sync.Mutex
	release := make(chan struct{})
	ext := meshtest.NewExternal(b, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		mu.Lock()
		ch := release
		mu.Unlock()
		<-ch
	})
	gw := meshtest.StartGateway(b, m, meshtest.SeedConfig(b), ext, nil)
	// Warm every connection first (each client's to the gateway, the gateway's to the host): requests
	// racing to a cold HTTP/2 pool each dial, which would measure handshakes, not held streams.
	close(release)
	clients := make([]*http.Client, conns)
	for i := range clients {
		clients[i] = m.Client(meshtest.Productpage, gw.Addr)
		meshtest.Warm(b, clients[i], "https://www.google.com/")
	}
	mu.Lock()
	release = make(chan struct{})
	mu.Unlock()
	arrived.Store(0)
	before := heapInUse()
	var done sync.WaitGroup
	var failed sync.Map
	for _, c := range clients {
		for j := 0; j < per; j++ {
			done.Add(1)
			go func() {
				defer done.Done()
				defer finished.Add(1)
				resp, err := c.Get("https://www.google.com/")
				if err != nil {
					failed.Store(err.Error(), true)
					return
				}
				resp.Body.Close()
			}()
		}
	}
	// Every request is either held by the upstream or has failed (and is reported below).
	for arrived.Load()+finished.Load() < conns*per {
		time.Sleep(10 * time.Millisecond)
	}
	b.Logf("arrived %d, failed %d", arrived.Load(), finished.Load())
	during := heapInUse()
	mu.Lock()
	close(release)
	mu.Unlock()
	done.Wait()
	failed.Range(func(k, _ any) bool { b.Error(k); return false })
	b.ReportMetric(float64(during-before)/(conns*per), "B/stream")
	for i := 0; i < b.N; i++ {
	}
}

// heapInUse is the heap plus goroutine stacks in use: a connection's cost is mostly its buffers and
// the stacks of the goroutines that serve it.
func heapInUse() uint64 {
	heap, stack := memInUse()
	return heap + stack
}

// memInUse is the heap and the goroutine stacks in use, after two collections (the stack figure of
// an idle connection does not move with more: 2, 4 and 8 collections gave the same).
func memInUse() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

func hello(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }

// BenchmarkGatewayAlone is the gateway's own cost per request: the mesh client (HTTP/2 over mTLS with
// the productpage SVID) and the HTTPS stand-in (1 KiB body) run in a peer process, so this process
// holds only the gateway and -benchmem reports the gateway's bytes and allocations per request.
//
//	go test ./internal/gateway -run '^$' -bench GatewayAlone -benchmem -count 5
func BenchmarkGatewayAlone(b *testing.B) {
	m := meshtest.NewMesh(b)
	dir := b.TempDir()
	meshtest.WriteBenchCerts(b, m, dir, map[string]string{"client": meshtest.Productpage})
	peer := meshtest.StartBenchPeer(b, "TestBenchPeer", meshtest.PeerClientMTLS, dir)
	up := peer.Expect("upstream")
	gw, err := gateway.New(meshtest.BenchGatewayParams(m.ServerTLS(meshtest.GatewaySVID), up[0], up[1]), meshtest.SeedConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Shutdown(context.Background()) })
	peer.Send("target %s", gw.Addr(8443))
	peer.Run()
}

// TestBenchPeer is the peer process of the *Alone benchmarks; it does nothing in a normal test run.
func TestBenchPeer(t *testing.T) { meshtest.RunBenchPeer(t) }
