package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"egret.dev/egret/internal/meshtest"
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
