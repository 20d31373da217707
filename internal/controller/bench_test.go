package controller_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"egret.dev/egret/internal/controller"
	"egret.dev/egret/internal/kubetest"
)

// scaleN is how many ExternalServices, and how many AccessPolicies, the scale benchmark applies.
const scaleN = 1000

// BenchmarkControllerScale applies 1,000 ExternalServices and 1,000 AccessPolicies at once (plus the
// seed's lifecycle managers and VirtualGateway) to a management cluster with a controller running, and
// measures until every workload cluster holds the rendered objects: the time to converge, the writes
// of the rollout and of a one-object change afterwards, the controller's heap, and the duration of the
// pass that follows a one-object change. Every cluster is a real kube-apiserver with its own etcd.
//
// Run it once per size: go test ./internal/controller -run '^$' -bench ControllerScale -benchtime 1x
// (docs/benchmarks.md, "Controller at scale").
func BenchmarkControllerScale(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				scaleRun(b, n)
			}
		})
	}
}

// stampedLog is a write log with the time of each write.
type stampedLog struct {
	mu  sync.Mutex
	all []stampedWrite
}

type stampedWrite struct {
	at                   time.Time
	cluster, verb, objID string
}

func (w *stampedLog) add(cluster, verb, obj string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = append(w.all, stampedWrite{time.Now(), cluster, verb, obj})
}

func (w *stampedLog) since(n int) []stampedWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]stampedWrite(nil), w.all[n:]...)
}

func (w *stampedLog) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.all)
}

func scaleRun(b *testing.B, nClusters int) {
	b.StopTimer()
	ctx := context.Background()
	mgmt := kubetest.StartAPIServer(b, "management")
	var work []*kubetest.APIServer
	var clusterNames []string
	for i := 1; i <= nClusters; i++ {
		name := fmt.Sprintf("cluster%d", i)
		w := kubetest.StartAPIServer(b, name)
		w.LoadIstioCRDs(b)
		work = append(work, w)
		clusterNames = append(clusterNames, name)
	}
	if err := mgmt.Apply(ctx, testCRDs(b)); err != nil {
		b.Fatal(err)
	}
	for _, n := range []string{ns, "bookinfo", "gloo-mesh"} {
		if _, err := mgmt.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "workload-clusters", Namespace: ns, Labels: map[string]string{controller.WorkloadClusterLabel: "true"}},
		Data:       map[string][]byte{},
	}
	for i, w := range work {
		secret.Data[clusterNames[i]] = w.KubeconfigData(b)
	}
	if _, err := mgmt.Clientset.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}

	writes := &stampedLog{}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(cctx, controller.Options{
			Config:    mgmt.Config,
			Namespace: ns,
			Log:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
			OnWrite:   writes.add,
		})
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("controller: %v", err)
		}
	})

	objs := scaleObjects(clusterNames)
	passesBefore, _ := reconcileStats(b)
	b.StartTimer()
	start := time.Now()
	applyParallel(b, mgmt, objs, 8)
	applied := time.Since(start)

	// Converged: every workload cluster holds an AuthorizationPolicy per AccessPolicy and a
	// ServiceEntry per ExternalService, and every source object says Programmed=True for its
	// generation. Checked after the controller has been quiet for 3 s, so the cheap check (the write
	// log) gates the listing.
	deadline := time.Now().Add(20 * time.Minute)
	for {
		if time.Now().After(deadline) {
			b.Fatalf("not converged within 20 minutes")
		}
		n := writes.count()
		time.Sleep(3 * time.Second)
		if writes.count() != n || n == 0 {
			continue
		}
		if err := scaleConverged(ctx, mgmt, work); err != nil {
			b.Logf("not yet: %v", err)
			continue
		}
		break
	}
	b.StopTimer()
	initial := writes.since(0)
	var lastApply, lastStatus time.Time
	perCluster := map[string]int{}
	statusWrites := 0
	for _, w := range initial {
		if w.cluster == "" {
			statusWrites++
			lastStatus = w.at
			continue
		}
		perCluster[w.cluster]++
		lastApply = w.at
	}
	passesAfter, _ := reconcileStats(b)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	// One AccessPolicy edited: the writes it causes and the pass it takes.
	n0 := writes.count()
	c0, s0 := reconcileStats(b)
	changeStart := time.Now()
	patch := `{"spec":{"config":{"authz":{"allowedClients":[{"serviceAccountSelector":{"name":"sa-changed"}}]}}}}`
	if _, err := mgmt.Dynamic.Resource(kubetest.AccessPolicies).Namespace("bookinfo").Patch(ctx, "ap-0500", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		b.Fatal(err)
	}
	for {
		if time.Since(changeStart) > 5*time.Minute {
			b.Fatalf("the change did not converge")
		}
		time.Sleep(100 * time.Millisecond)
		ws := writes.since(n0)
		if len(ws) > 0 && ws[len(ws)-1].cluster == "" {
			break // the status write ends the pass
		}
	}
	changeLatency := time.Since(changeStart)
	time.Sleep(3 * time.Second)
	change := writes.since(n0)
	c1, s1 := reconcileStats(b)
	var passTime time.Duration
	if c1 > c0 {
		passTime = time.Duration((s1 - s0) / float64(c1-c0) * float64(time.Second))
	}
	changePer := map[string]int{}
	var changeList []string
	for _, w := range change {
		key := w.cluster
		if key == "" {
			key = "status"
		}
		changePer[key]++
		if len(changeList) < 12 {
			changeList = append(changeList, strings.TrimSpace(w.cluster+" "+w.verb+" "+w.objID))
		}
	}

	converge := lastApply.Sub(start)
	b.ReportMetric(converge.Seconds(), "s-converge")
	b.ReportMetric(lastStatus.Sub(start).Seconds(), "s-status")
	b.ReportMetric(float64(len(initial)-statusWrites)/float64(nClusters), "applies/cluster")
	b.ReportMetric(float64(statusWrites), "status-writes")
	b.ReportMetric(float64(len(change)), "writes/change")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap")
	b.ReportMetric(float64(passTime.Milliseconds()), "ms-pass")
	b.ReportMetric(float64(changeLatency.Milliseconds()), "ms-change")
	b.Logf("clusters=%d: applied %d objects to the management cluster in %s; objects in place in every workload cluster after %s (%d passes), statuses after %s",
		nClusters, len(objs), applied.Round(time.Millisecond), converge.Round(time.Millisecond), int(passesAfter-passesBefore), lastStatus.Sub(start).Round(time.Millisecond))
	b.Logf("initial writes: per cluster %v, status %d; heap in use after GC %d MB (sys %d MB)",
		perCluster, statusWrites, ms.HeapInuse>>20, ms.Sys>>20)
	b.Logf("one AccessPolicy edited: %d writes %v; visible after %s; pass %s", len(change), changeList, changeLatency.Round(time.Millisecond), passTime.Round(time.Millisecond))
}

// scaleObjects are the seed's lifecycle managers and VirtualGateway naming every cluster, then
// scaleN ExternalServices with distinct hosts and scaleN AccessPolicies, policy i letting service
// account sa-i reach service i.
func scaleObjects(clusters []string) []*unstructured.Unstructured {
	var cl, refs []any
	for _, c := range clusters {
		cl = append(cl, map[string]any{"name": c, "activeGateway": true})
		refs = append(refs, map[string]any{"name": "istio-egressgateway", "namespace": "bookinfo", "cluster": c})
	}
	obj := func(apiVersion, kind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": namespace},
			"spec":     spec,
		}}
	}
	var ilmClusters []any
	for _, c := range clusters {
		ilmClusters = append(ilmClusters, map[string]any{"name": c, "defaultRevision": true})
	}
	out := []*unstructured.Unstructured{
		obj("admin.gloo.solo.io/v2", "IstioLifecycleManager", "gloo-mesh", "istiod-control-plane", map[string]any{
			"installations": []any{map[string]any{"revision": "1-25", "clusters": ilmClusters,
				"istioOperatorSpec": map[string]any{"meshConfig": map[string]any{"outboundTrafficPolicy": map[string]any{"mode": "REGISTRY_ONLY"}}}}},
		}),
		obj("admin.gloo.solo.io/v2", "GatewayLifecycleManager", "gloo-mesh", "istio-egressgateway", map[string]any{
			"installations": []any{map[string]any{"gatewayRevision": "1-25", "clusters": cl,
				"istioOperatorSpec": map[string]any{"profile": "empty", "components": map[string]any{"egressGateways": []any{map[string]any{
					"name": "istio-egressgateway", "namespace": "gloo-mesh-gateways", "enabled": true,
					"label": map[string]any{"istio": "egressgateway", "app": "istio-egressgateway"},
					"k8s": map[string]any{"service": map[string]any{"ports": []any{
						map[string]any{"port": int64(15021), "targetPort": int64(15021), "name": "status-port"},
						map[string]any{"port": int64(443), "targetPort": int64(8443), "name": "https"},
					}}},
				}}}}}},
		}),
		obj("networking.gloo.solo.io/v2", "VirtualGateway", "bookinfo", "istio-egressgateway", map[string]any{
			"workloads": []any{map[string]any{"selector": map[string]any{"labels": map[string]any{"istio": "egressgateway"}}}},
			"listeners": []any{map[string]any{"port": map[string]any{"number": int64(443)}, "tls": map[string]any{"mode": "ISTIO_MUTUAL"},
				"appProtocol": "HTTPS", "http": map[string]any{}}}, // no exposedExternalServices: every one
		}),
	}
	for i := 1; i <= scaleN; i++ {
		out = append(out, obj("networking.gloo.solo.io/v2", "ExternalService", "bookinfo", fmt.Sprintf("es-%04d", i), map[string]any{
			"hosts": []any{fmt.Sprintf("svc-%04d.example.com", i)},
			"ports": []any{map[string]any{"name": "https", "number": int64(443), "protocol": "HTTPS", "clientsideTls": map[string]any{},
				"egressGatewayRoutes": map[string]any{"portMatch": int64(80), "virtualGatewayRefs": refs}}},
		}))
	}
	for i := 1; i <= scaleN; i++ {
		out = append(out, obj("security.policy.gloo.solo.io/v2", "AccessPolicy", "bookinfo", fmt.Sprintf("ap-%04d", i), map[string]any{
			"applyToDestinations": []any{map[string]any{"kind": "EXTERNAL_SERVICE", "selector": map[string]any{"name": fmt.Sprintf("es-%04d", i), "namespace": "bookinfo"}}},
			"config": map[string]any{"authn": map[string]any{"tlsMode": "STRICT"},
				"authz": map[string]any{"allowedClients": []any{map[string]any{"serviceAccountSelector": map[string]any{"name": fmt.Sprintf("sa-%04d", i)}}}}},
		}))
	}
	return out
}

// applyParallel server-side-applies the objects with the given number of workers, as a user's
// `kubectl apply -f` of a large folder would (kubectl is sequential; this is faster, so the
// controller sees the burst at once).
func applyParallel(b *testing.B, s *kubetest.APIServer, objs []*unstructured.Unstructured, workers int) {
	ch := make(chan *unstructured.Unstructured)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range ch {
				gvr := map[string]schema.GroupVersionResource{"ExternalService": kubetest.ExternalServices, "AccessPolicy": kubetest.AccessPolicies}[u.GetKind()]
				var err error
				if gvr.Resource != "" { // known kinds skip the per-call discovery of kubetest's Apply
					var body []byte
					if body, err = u.MarshalJSON(); err == nil {
						_, err = s.Dynamic.Resource(gvr).Namespace(u.GetNamespace()).Patch(context.Background(), u.GetName(), types.ApplyPatchType, body,
							metav1.PatchOptions{FieldManager: kubetest.FieldManager})
					}
				} else {
					err = s.Apply(context.Background(), []*unstructured.Unstructured{u})
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for _, u := range objs {
		ch <- u
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// scaleConverged checks that every workload cluster holds scaleN owned AuthorizationPolicies and
// ServiceEntries, and that every source object is Programmed for its generation.
func scaleConverged(ctx context.Context, mgmt *kubetest.APIServer, work []*kubetest.APIServer) error {
	sel := metav1.ListOptions{LabelSelector: controller.ManagedByLabel + "=egret"}
	for _, w := range work {
		aps, err := w.Dynamic.Resource(kubetest.AuthorizationPolicies).List(ctx, sel)
		if err != nil {
			return err
		}
		ses, err := w.Dynamic.Resource(kubetest.ServiceEntries).List(ctx, sel)
		if err != nil {
			return err
		}
		if len(aps.Items) < scaleN || len(ses.Items) < scaleN {
			return fmt.Errorf("%s: %d AuthorizationPolicies, %d ServiceEntries", w.Name, len(aps.Items), len(ses.Items))
		}
	}
	var notYet []string
	for _, gvr := range []schema.GroupVersionResource{kubetest.ExternalServices, kubetest.AccessPolicies} {
		list, err := mgmt.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, u := range list.Items {
			if !programmed(&u) {
				notYet = append(notYet, u.GetKind()+" "+u.GetName())
			}
		}
	}
	if len(notYet) > 0 {
		sort.Strings(notYet)
		return fmt.Errorf("%d objects not Programmed yet, e.g. %s", len(notYet), notYet[0])
	}
	return nil
}

func programmed(u *unstructured.Unstructured) bool {
	og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if og != u.GetGeneration() {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if cm, ok := c.(map[string]any); ok && cm["type"] == controller.CondProgrammed {
			return cm["status"] == "True"
		}
	}
	return false
}

// reconcileStats reads controller-runtime's reconcile-time histogram of the egret controller from the
// process's metrics registry: the number of passes and their total seconds.
func reconcileStats(b *testing.B) (count uint64, sum float64) {
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_reconcile_time_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "egret" {
					count += m.GetHistogram().GetSampleCount()
					sum += m.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	return count, sum
}
