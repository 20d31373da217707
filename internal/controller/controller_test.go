package controller_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"egret.dev/egret/internal/controller"
	"egret.dev/egret/internal/kubetest"
)

const ns = "egret-system"

// env is a management and a workload cluster (cluster1), each a real kube-apiserver with its own etcd.
type env struct {
	mgmt, work *kubetest.APIServer
	writes     *writeLog
}

type writeLog struct {
	mu  sync.Mutex
	all []string
}

func (w *writeLog) add(cluster, verb, obj string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = append(w.all, cluster+" "+verb+" "+obj)
}

func (w *writeLog) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.all)
}

func (w *writeLog) since(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.all[n:]...)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mgmt := kubetest.StartAPIServer(t, "management")
	work := kubetest.StartAPIServer(t, "cluster1")
	work.LoadIstioCRDs(t)
	ctx := context.Background()
	if err := mgmt.Apply(ctx, testCRDs(t)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{ns, "bookinfo", "gloo-mesh"} {
		if _, err := mgmt.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster1", Namespace: ns, Labels: map[string]string{controller.WorkloadClusterLabel: "true"}},
		Data:       map[string][]byte{"cluster1": work.KubeconfigData(t)},
	}
	if _, err := mgmt.Clientset.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &env{mgmt: mgmt, work: work, writes: &writeLog{}}
}

// run starts a controller replica; it stops when the returned function is called (which waits until
// Run returned) or the test ends.
func (e *env) run(t *testing.T, name string, leaderElect bool) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, controller.Options{
			Config:        e.mgmt.Config,
			Namespace:     ns,
			LeaderElect:   leaderElect,
			Log:           slog.New(slog.NewTextHandler(testWriter{t, name}, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Resync:        time.Second,
			LeaseDuration: 3 * time.Second,
			RenewDeadline: 2 * time.Second,
			RetryPeriod:   300 * time.Millisecond,
			OnWrite:       e.writes.add,
		})
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("controller %s: %v", name, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("controller %s did not stop", name)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

type testWriter struct {
	t    *testing.T
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.name + ": " + strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *env) applySeed(t *testing.T) { e.mgmt.ApplySeed(t, "../../examples/bookinfo-egress") }

var eventually = kubetest.Eventually

func (e *env) hasPrincipal(sa string) func() error { return e.work.HasSeedPrincipal(sa) }

func (e *env) setAllowedClient(t *testing.T, sa string) { e.mgmt.SetSeedAllowedClient(t, sa) }

func (e *env) patch(t *testing.T, gvr schema.GroupVersionResource, name, patch string) {
	e.mgmt.MergePatch(t, gvr, name, patch)
}

func (e *env) wantCondition(gvr schema.GroupVersionResource, name, typ, status, reason, msgPart string) func() error {
	return e.mgmt.WantCondition(gvr, name, typ, status, reason, msgPart)
}

func (e *env) exists(gvr schema.GroupVersionResource, namespace, name string) (bool, error) {
	return e.work.Exists(gvr, namespace, name)
}

// settled waits until the controller has written nothing for two seconds (with a pass every second)
// and returns the write count.
func (e *env) settled(t *testing.T) int {
	t.Helper()
	n := e.writes.count()
	quiet := time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if c := e.writes.count(); c != n {
			n, quiet = c, time.Now()
		} else if time.Since(quiet) > 2*time.Second {
			return n
		}
	}
	t.Fatalf("the controller kept writing: %v", e.writes.since(0))
	return 0
}
