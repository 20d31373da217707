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
	"strings"
	"sync"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/xds"
)

// xdsBenchProxy records when it received a resource whose name contains want.
type xdsBenchProxy struct {
	mu   sync.Mutex
	want string
	at   time.Time
	seen bool // the initial sync arrived
}

func (p *xdsBenchProxy) raw(resp *discovery.DeltaDiscoveryResponse) error {
	for _, r := range resp.GetResources() {
		if _, err := r.GetResource().UnmarshalNew(); err != nil { // decode as a proxy would
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = true
	for _, r := range resp.GetResources() {
		if p.want != "" && strings.Contains(r.GetName(), p.want) {
			p.at = time.Now()
		}
	}
	return nil
}

// BenchmarkConvergenceXDS is BenchmarkConvergence over delta xDS: the same proxies, resources and
// change; the time is until every sidecar has received (and then ACKs) the one added ExternalService.
func BenchmarkConvergenceXDS(b *testing.B) {
	n := benchProxies()
	dir := writeBenchResources(b, n)
	cp, err := New(Params{ConfigDir: dir, DataDir: b.TempDir(), Listen: "127.0.0.1:0", Poll: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
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
	proxies := make([]*xdsBenchProxy, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range proxies {
		cert := m.SVID(fmt.Sprintf("spiffe://cluster1/ns/bench/sa/sa-%d", i), time.Hour)
		conf := &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, pool, cpID) }}
		p := &xdsBenchProxy{}
		proxies[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = xds.RunDeltaClient(ctx, xds.DeltaClientParams{Address: cp.Addr(), TLS: conf, Kind: xds.KindSidecar, Raw: p.raw,
				MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
		}()
	}
	synced := func() int {
		k := 0
		for _, s := range cp.Status().Proxies {
			if s.Connected && s.Protocol == xds.ProtocolXDS && s.State() == "SYNCED" {
				k++
			}
		}
		return k
	}
	for deadline := time.Now().Add(10 * time.Minute); synced() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d proxies synced", synced(), n)
		}
	}
	b.Logf("%d proxies connected and synced over delta xDS in %v", n, time.Since(start))
	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	perProxy := float64((ms1.HeapInuse+ms1.StackInuse)-(ms0.HeapInuse+ms0.StackInuse)) / float64(n)

	var all []time.Duration
	var maxes []time.Duration
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := fmt.Sprintf("bench/added-%d", i)
		for _, p := range proxies {
			p.mu.Lock()
			p.want, p.at = want, time.Time{}
			p.mu.Unlock()
		}
		before := cp.delta.BytesSent()
		begin := time.Now()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("20-added-%d.yaml", i)), []byte(routedService(i)), 0o644); err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
			lat = lat[:0]
			for _, p := range proxies {
				p.mu.Lock()
				if !p.at.IsZero() {
					lat = append(lat, p.at.Sub(begin))
				}
				p.mu.Unlock()
			}
			if len(lat) == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d proxies received the change", len(lat), n)
			}
		}
		// The debounce (300 ms) is inside these figures, as in BenchmarkConvergence.
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		all = append(all, lat...)
		maxes = append(maxes, lat[len(lat)-1])
		for synced() < n {
			time.Sleep(2 * time.Millisecond)
		}
		bytes += cp.delta.BytesSent() - before
	}
	b.StopTimer()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	sort.Slice(maxes, func(i, j int) bool { return maxes[i] < maxes[j] })
	b.ReportMetric(float64(all[len(all)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(all[(len(all)*99)/100].Milliseconds()), "p99-ms")
	b.ReportMetric(float64(maxes[len(maxes)-1].Milliseconds()), "max-ms")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/push")
	b.ReportMetric(perProxy, "B/proxy")
	b.ReportMetric(float64(n), "proxies")
	cancel()
	wg.Wait()
}
