package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/xds"
)

// The fleet benchmark (issue 15): N sidecars and the example's two gateways on a control plane serving
// 10,000 ExternalServices routed through the gateways and 10,000 AccessPolicies (one per service), over
// delta xDS. (egret-config/v1, measured against it in the same run until it was removed: docs/benchmarks.md.)
//
//	EGRET_BENCH_PROXIES=1000 EGRET_BENCH_CHANGES=5 go test -run '^$' -bench 'BenchmarkFleet$' -benchtime=1x -timeout 60m ./internal/controlplane

const fleetGateway = `apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata:
  name: istio-egressgateway
  namespace: bookinfo
spec:
  workloads:
  - selector:
      labels:
        istio: egressgateway
  listeners:
  - port:
      number: 443
    tls:
      mode: ISTIO_MUTUAL
    appProtocol: HTTPS
    http: {}
    exposedExternalServices:
    - host: www.google.com
    - host: "*.example.com"
`

func fleetService(name string) string {
	return fmt.Sprintf(`---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata:
  name: %[1]s
  namespace: bench
spec:
  hosts:
  - %[1]s.example.com
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
`, name)
}

func fleetPolicy(name, service, client string) string {
	return fmt.Sprintf(`---
apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata:
  name: %s
  namespace: bench
spec:
  applyToDestinations:
  - kind: EXTERNAL_SERVICE
    selector:
      name: %s
      namespace: bench
  config:
    authz:
      allowedClients:
      - serviceAccountSelector:
          name: %s
`, name, service, client)
}

func writeFleetResources(b *testing.B, proxies int) string {
	dir := writeBenchResources(b, proxies) // the example, 10,000 unrouted services, the workloads
	var svc, pol strings.Builder
	for i := 0; i < benchServices; i++ {
		svc.WriteString(fleetService(fmt.Sprintf("svc-%d", i)))
		pol.WriteString(fleetPolicy(fmt.Sprintf("pol-%d", i), fmt.Sprintf("svc-%d", i), fmt.Sprintf("sa-%d", i%proxies)))
	}
	for name, data := range map[string]string{"02-virtual-gateway.yaml": fleetGateway, "10-services.yaml": svc.String(),
		"12-policies.yaml": pol.String(), "13-changed.yaml": fleetPolicy("changed", "svc-0", "sa-0")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// fleetRound is one change's figures.
type fleetRound struct {
	lat   []time.Duration
	bytes int64
	cpu   time.Duration
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*q))]
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func BenchmarkFleet(b *testing.B) {
	n := benchProxies()
	changes := 5
	if k, err := strconv.Atoi(os.Getenv("EGRET_BENCH_CHANGES")); err == nil && k > 0 {
		changes = k
	}
	dir := writeFleetResources(b, n)
	t0 := time.Now()
	cp, err := New(Params{ConfigDir: dir, DataDir: b.TempDir(), Listen: "127.0.0.1:0", Poll: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	if st := cp.Status(); len(st.Rejected) > 0 {
		b.Fatal(st.Rejected[:min(3, len(st.Rejected))])
	}
	plan := cp.Plan()
	b.Logf("loaded %d services, %d policies, %d workloads, %d gateways in %v", len(plan.Services), len(plan.Policies),
		len(plan.Workloads), len(plan.Gateways), time.Since(t0))
	if err := cp.Start(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cp.Run(ctx)
	pool := x509.NewCertPool()
	pool.AddCert(cp.CA().Root())
	m := &meshtest.Mesh{T: b, CA: cp.CA(), Pool: pool}
	tlsFor := func(id string) *tls.Config {
		cert := m.SVID(id, time.Hour)
		return &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, pool, cpID) }}
	}
	var gwIDs []string
	for _, g := range plan.Gateways {
		gwIDs = append(gwIDs, g.Identity.String())
	}
	confs := make([]*tls.Config, n)
	for i := range confs {
		confs[i] = tlsFor(fmt.Sprintf("spiffe://cluster1/ns/bench/sa/sa-%d", i))
	}
	gwConfs := make([]*tls.Config, len(gwIDs))
	for i, id := range gwIDs {
		gwConfs[i] = tlsFor(id)
	}
	countSynced := func(protocol string) (sc, gw int) {
		for _, s := range cp.Status().Proxies {
			if s.Connected && s.Protocol == protocol && s.State() == "SYNCED" {
				if s.Kind == xds.KindSidecar {
					sc++
				} else {
					gw++
				}
			}
		}
		return sc, gw
	}
	waitSynced := func(protocol string, timeout time.Duration) {
		for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
			sc, gw := countSynced(protocol)
			if sc >= n && gw >= len(gwIDs) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: only %d of %d sidecars and %d of %d gateways synced", protocol, sc, n, gw, len(gwIDs))
			}
		}
	}

	// Delta xDS.
	dctx, dcancel := context.WithCancel(ctx)
	mem0 := heapInUse()
	sidecars := make([]*xdsBenchProxy, n)
	gateways := make([]*xdsBenchProxy, len(gwIDs))
	var wg sync.WaitGroup
	start := time.Now()
	run := func(p *xdsBenchProxy, conf *tls.Config, kind string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = xds.RunDeltaClient(dctx, xds.DeltaClientParams{Address: cp.Addr(), TLS: conf, Kind: kind, Raw: p.raw,
				MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
		}()
	}
	for i := range sidecars {
		sidecars[i] = &xdsBenchProxy{}
	}
	for i := range gateways {
		gateways[i] = &xdsBenchProxy{}
	}
	var child *fleetChild
	ends := "both ends"
	if os.Getenv("EGRET_BENCH_CLIENTS") == "process" {
		ends = "the control plane's own"
		var kinds []string
		var certs []tls.Certificate
		for i := range sidecars {
			kinds, certs = append(kinds, xds.KindSidecar), append(certs, confs[i].Certificates[0])
		}
		for i := range gateways {
			kinds, certs = append(kinds, xds.KindGateway), append(certs, gwConfs[i].Certificates[0])
		}
		child = startFleetChild(b, cp.Addr(), cp.CA().Root(), kinds, certs, func(kind string, i int, name string, at time.Time) {
			p := gateways[max(0, i-n)]
			if kind == xds.KindSidecar {
				p = sidecars[i]
			}
			p.mu.Lock()
			if p.want != "" && strings.Contains(name, p.want) {
				p.at = at
			}
			p.mu.Unlock()
		})
	} else {
		for i := range sidecars {
			run(sidecars[i], confs[i], xds.KindSidecar)
		}
		for i := range gateways {
			run(gateways[i], gwConfs[i], xds.KindGateway)
		}
	}
	waitSynced(xds.ProtocolXDS, 30*time.Minute)
	initial := time.Since(start)
	initialBytes := cp.delta.BytesSent()
	memPer := float64(heapInUse()-mem0) / float64(n+len(gwIDs))
	if path := os.Getenv("EGRET_BENCH_HEAPPROFILE"); path != "" { // what the connected proxies hold
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	b.Logf("delta xDS: %d sidecars + %d gateways synced in %v, %d MB sent, %.0f KB per proxy (%s)",
		n, len(gwIDs), initial, initialBytes>>20, memPer/1024, ends)

	measure := func(ps []*xdsBenchProxy, want string, write func()) fleetRound {
		for _, p := range ps {
			p.mu.Lock()
			p.want, p.at = want, time.Time{}
			p.mu.Unlock()
		}
		bytes0, cpu0 := cp.delta.BytesSent(), cpuTime()
		begin := time.Now()
		write()
		var r fleetRound
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
			r.lat = r.lat[:0]
			for _, p := range ps {
				p.mu.Lock()
				if !p.at.IsZero() {
					r.lat = append(r.lat, p.at.Sub(begin))
				}
				p.mu.Unlock()
			}
			if len(r.lat) == len(ps) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d proxies received %s", len(r.lat), len(ps), want)
			}
		}
		waitSynced(xds.ProtocolXDS, 5*time.Minute)
		r.bytes, r.cpu = cp.delta.BytesSent()-bytes0, cpuTime()-cpu0
		return r
	}
	cpuOf := "whole process: control plane and clients"
	if child != nil {
		cpuOf = "the control plane's process"
	}
	report := func(what string, rounds []fleetRound) {
		var p50, p99, mx, bytes, cpu []float64
		for _, r := range rounds {
			p50 = append(p50, float64(quantile(r.lat, 0.5).Milliseconds()))
			p99 = append(p99, float64(quantile(r.lat, 0.99).Milliseconds()))
			mx = append(mx, float64(quantile(r.lat, 1).Milliseconds()))
			bytes = append(bytes, float64(r.bytes))
			cpu = append(cpu, float64(r.cpu.Milliseconds()))
		}
		b.Logf("%s (%d changes, medians): p50 %.0f ms, p99 %.0f ms, max %.0f ms, %.0f bytes sent, %.0f ms CPU (%s)",
			what, len(rounds), median(p50), median(p99), median(mx), median(bytes), median(cpu), cpuOf)
		b.ReportMetric(median(p99), what+"-p99-ms")
	}
	var added, policy []fleetRound
	for i := 0; i < changes; i++ {
		added = append(added, measure(sidecars, fmt.Sprintf("bench/added-%d", i), func() {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("20-added-%d.yaml", i)), []byte(fleetService(fmt.Sprintf("added-%d", i))), 0o644); err != nil {
				b.Fatal(err)
			}
		}))
	}
	report("xds-added-service", added)
	for i := 0; i < changes; i++ {
		policy = append(policy, measure(gateways, "bench/changed", func() {
			if err := os.WriteFile(filepath.Join(dir, "13-changed.yaml"), []byte(fleetPolicy("changed", "svc-0", fmt.Sprintf("sa-%d", i+1))), 0o644); err != nil {
				b.Fatal(err)
			}
		}))
	}
	report("xds-policy-change", policy)
	b.ReportMetric(memPer, "xds-B/proxy")
	dcancel()
	if child != nil {
		child.stop()
	}
	wg.Wait()
}
