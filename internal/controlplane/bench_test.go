package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/xds"
)

// benchProxies is how many proxies connect (EGRET_BENCH_PROXIES overrides the 1,000).
func benchProxies() int {
	if n, err := strconv.Atoi(os.Getenv("EGRET_BENCH_PROXIES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

const benchServices = 10000

// writeBenchResources writes the example plus services ExternalServices and one Workload per proxy.
func writeBenchResources(b *testing.B, proxies int) string {
	dir := b.TempDir()
	entries, _ := os.ReadDir(meshtest.Example)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(meshtest.Example, e.Name()))
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var sb strings.Builder
	for i := 0; i < benchServices; i++ {
		fmt.Fprintf(&sb, `---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata:
  name: svc-%d
  namespace: bench
spec:
  hosts:
  - svc-%d.example.com
  ports:
  - name: https
    number: 443
    protocol: HTTPS
`, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "10-services.yaml"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	sb.Reset()
	for i := 0; i < proxies; i++ {
		fmt.Fprintf(&sb, `---
apiVersion: egret.dev/v1alpha1
kind: Workload
metadata:
  name: w-%d
  namespace: bench
spec:
  serviceAccount: sa-%d
  cluster: cluster1
`, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "11-workloads.yaml"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// routedService is the change: one more ExternalService routed through the egress gateways, which
// every cluster1 sidecar must learn.
func routedService(n int) string {
	return fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata:
  name: added-%d
  namespace: bench
spec:
  hosts:
  - added-%d.example.com
  ports:
  - name: https
    number: 443
    protocol: HTTPS
    clientsideTls: {}
    egressGatewayRoutes:
      portMatch: 80
      virtualGatewayRefs:
      - name: istio-egressgateway
        namespace: bookinfo
        cluster: cluster1
`, n, n)
}

// benchProxy records when each version arrived.
type benchProxy struct {
	mu   sync.Mutex
	last string
	at   time.Time
}

func (p *benchProxy) apply(m xds.Message) error {
	p.mu.Lock()
	p.last, p.at = m.Version, time.Now()
	p.mu.Unlock()
	return nil
}

// BenchmarkConvergence connects the proxies (in-process xds clients, one SVID and TLS config each)
// to a control plane serving 10,000 ExternalServices, then measures, per iteration, the time from
// writing a file to every affected proxy's ACK being recorded by the control plane.
func BenchmarkConvergence(b *testing.B) {
	n := benchProxies()
	dir := writeBenchResources(b, n)
	cp, err := New(Params{ConfigDir: dir, DataDir: b.TempDir(), Listen: "127.0.0.1:0", Poll: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	if st := cp.Status(); len(st.Rejected) > 0 {
		b.Fatal(st.Rejected)
	}
	if err := cp.Start(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cp.Run(ctx)

	pool := x509.NewCertPool()
	pool.AddCert(cp.CA().Root())
	m := &meshtest.Mesh{T: b, CA: cp.CA(), Pool: pool}
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	proxies := make([]*benchProxy, n)
	var wg sync.WaitGroup
	for i := range proxies {
		cert := m.SVID(fmt.Sprintf("spiffe://cluster1/ns/bench/sa/sa-%d", i), time.Hour)
		conf := &tls.Config{
			Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, pool, cpID) },
		}
		p := &benchProxy{}
		proxies[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = xds.RunClient(ctx, xds.ClientParams{Address: cp.Addr(), TLS: conf, Apply: p.apply, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
		}()
	}
	connectStart := time.Now()
	waitAcked := func(want func(string) bool, timeout time.Duration) int {
		deadline := time.Now().Add(timeout)
		for {
			acked := 0
			for _, s := range cp.Status().Proxies {
				if s.Connected && s.Kind == xds.KindSidecar && s.Nack == "" && want(s.Acked) {
					acked++
				}
			}
			if acked >= n || time.Now().After(deadline) {
				return acked
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if got := waitAcked(func(v string) bool { return v != "" }, 10*time.Minute); got < n {
		b.Fatalf("only %d of %d proxies connected and acknowledged", got, n)
	}
	b.Logf("%d proxies connected and synced in %v", n, time.Since(connectStart))
	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	perProxy := float64((ms1.HeapInuse+ms1.StackInuse)-(ms0.HeapInuse+ms0.StackInuse)) / float64(n)

	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sample, _, _, _ := cp.ConfigFor("spiffe://cluster1/ns/bench/sa/sa-0")
		old := map[string]bool{}
		for _, s := range cp.Status().Proxies {
			old[s.Acked] = true
		}
		begin := time.Now()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("20-added-%d.yaml", i)), []byte(routedService(i)), 0o644); err != nil {
			b.Fatal(err)
		}
		var want string
		deadline := time.Now().Add(time.Minute)
		for want == "" || want == sample.Version {
			m, _, _, _ := cp.ConfigFor("spiffe://cluster1/ns/bench/sa/sa-0")
			want = m.Version
			if time.Now().After(deadline) {
				b.Fatal("the change was not applied")
			}
			time.Sleep(time.Millisecond)
		}
		// Every sidecar's config carries the new route, so each gets its own new version; wait until
		// none still acknowledges a version older than the change.
		if got := waitAcked(func(v string) bool { return v != "" && !old[v] }, 5*time.Minute); got < n {
			b.Fatalf("only %d of %d proxies acknowledged the change", got, n)
		}
		lat = append(lat, time.Since(begin))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Milliseconds()), "p99-ms")
	b.ReportMetric(perProxy, "B/proxy")
	b.ReportMetric(float64(n), "proxies")
	cancel()
	wg.Wait()
}
