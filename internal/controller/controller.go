// Package controller is egret's Kubernetes controller: it watches egret's custom resources in the
// management cluster, translates them with the same pipeline as the file source, and keeps the Istio and
// Kubernetes objects of every workload cluster in step, reporting on each resource in its status.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"egret.dev/egret/internal/source/kube"
)

// LeaseName is the coordination.k8s.io Lease the replicas elect a leader on.
const LeaseName = "egret-controller"

// Options configure Run; the CLI turns flags into them.
type Options struct {
	// Kubeconfig is the management cluster's kubeconfig; empty means in-cluster, else $KUBECONFIG,
	// else ~/.kube/config. Config, when set, is used instead (tests).
	Kubeconfig string
	Config     *rest.Config
	// Namespace is the controller's own: its Lease and the workload-cluster Secrets live there.
	Namespace string
	// LocalCluster, when set, also renders for and applies to the management cluster under this name.
	LocalCluster string
	// LeaderElect makes the replica reconcile only while it holds the Lease.
	LeaderElect bool
	// Admin serves /healthz, /readyz and /metrics over plain HTTP; empty disables it.
	Admin string
	Log   *slog.Logger

	// Resync is how often a pass runs without an event (it repairs drift in workload clusters);
	// default 5 minutes.
	Resync time.Duration
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election (defaults 15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// OnWrite, when set, is called after every write the controller makes: verb apply, create or delete
	// in a workload cluster (cluster set), status in the management cluster (cluster empty).
	// Writes run concurrently, so OnWrite may be called from several goroutines at once.
	OnWrite func(cluster, verb, object string)
}

// DefaultNamespace is --namespace when $POD_NAMESPACE is unset.
const DefaultNamespace = "egret-system"

var setLogger sync.Once

// Run runs the controller until ctx ends.
func Run(ctx context.Context, o Options) error {
	o = o.withDefaults()
	cfg, err := restConfig(o)
	if err != nil {
		return err
	}
	lg := logr.FromSlogHandler(o.Log.Handler())
	setLogger.Do(func() { log.SetLogger(lg) })
	mgr, err := newManager(cfg, o, lg)
	if err != nil {
		return err
	}
	src := kube.New(mgr.GetClient())
	r := &reconciler{
		log:          o.Log,
		mgmt:         mgr.GetClient(),
		src:          src,
		recorder:     mgr.GetEventRecorder("egret"), // events.k8s.io/v1 (the chart grants it; kubectl describe shows them)
		namespace:    o.Namespace,
		localCluster: o.LocalCluster,
		localConfig:  cfg,
		resync:       o.Resync,
		onWrite:      o.OnWrite,
		lastValid:    map[string]kube.Object{},
		clients:      map[string]*cluster{},
	}
	if err := watch(mgr, r, src); err != nil {
		return err
	}
	return start(ctx, mgr, o)
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Resync == 0 {
		o.Resync = 5 * time.Minute
	}
	return o
}

// restConfig is the management cluster's client config: o.Config, else loaded (loadConfig), with a
// rate limit fit for status writes at scale.
func restConfig(o Options) (*rest.Config, error) {
	cfg := o.Config
	if cfg == nil {
		var err error
		if cfg, err = loadConfig(o.Kubeconfig); err != nil {
			return nil, err
		}
	}
	if cfg.QPS == 0 { // client-go's default (5 a second) throttles status writes at scale
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = clientQPS, clientBurst
	}
	return cfg, nil
}

// newManager builds the controller-runtime manager: the workload-cluster Secrets of o.Namespace only
// in its cache, leader election on the Lease, no metrics or probe listeners of its own (--admin serves them).
func newManager(cfg *rest.Config, o Options, lg logr.Logger) (manager.Manager, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme: scheme,
		Logger: lg,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {
				Namespaces: map[string]cache.Config{o.Namespace: {}},
				Label:      labels.SelectorFromSet(labels.Set{WorkloadClusterLabel: "true"}),
			},
		}},
		Metrics:                       metricsserver.Options{BindAddress: "0"}, // served on --admin below
		HealthProbeBindAddress:        "0",
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              LeaseName,
		LeaderElectionNamespace:       o.Namespace,
		LeaderElectionResourceLock:    "leases",
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 ptr(durationOr(o.LeaseDuration, 15*time.Second)),
		RenewDeadline:                 ptr(durationOr(o.RenewDeadline, 10*time.Second)),
		RetryPeriod:                   ptr(durationOr(o.RetryPeriod, 2*time.Second)),
	})
	if err != nil {
		return nil, fmt.Errorf("controller manager: %w", err)
	}
	return mgr, nil
}

// watch makes r the reconciler of every egret kind and of the workload-cluster Secrets.
func watch(mgr manager.Manager, r *reconciler, src *kube.Source) error {
	c, err := crcontroller.New("egret", mgr, crcontroller.Options{
		Reconciler:              r,
		MaxConcurrentReconciles: 1,
		// A failing pass (a workload cluster down) is retried from 100 ms, doubling, at most every 30 s.
		RateLimiter:        workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](100*time.Millisecond, 30*time.Second),
		SkipNameValidation: ptr(true), // tests run several replicas in one process
	})
	if err != nil {
		return err
	}
	// Every event maps to the one key of the mesh: the plan is global.
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		src.Notify()
		return []reconcile.Request{{}}
	})
	// Status writes change neither generation nor labels, so the controller's own writes wake nothing.
	changed := predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{})
	for _, k := range kube.Kinds {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(k.GVK())
		if err := c.Watch(source.Kind[client.Object](mgr.GetCache(), u, all, changed)); err != nil {
			return err
		}
	}
	return c.Watch(source.Kind[client.Object](mgr.GetCache(), &corev1.Secret{}, all))
}

// start serves the admin endpoints and runs the manager until ctx ends or either fails.
func start(ctx context.Context, mgr manager.Manager, o Options) error {
	var ready atomic.Bool
	go func() {
		if mgr.GetCache().WaitForCacheSync(ctx) {
			ready.Store(true)
		}
	}()
	adminErr := make(chan error, 1)
	if o.Admin != "" {
		srv, err := serveAdmin(o.Admin, &ready)
		if err != nil {
			return err
		}
		go func() { adminErr <- srv.serve() }()
		defer srv.close()
	}
	o.Log.Info("controller starting", "namespace", o.Namespace, "leaderElect", o.LeaderElect, "localCluster", o.LocalCluster)
	mgrErr := make(chan error, 1)
	go func() { mgrErr <- mgr.Start(ctx) }()
	select {
	case err := <-mgrErr:
		return err
	case err := <-adminErr:
		return fmt.Errorf("admin server: %w", err)
	}
}

// loadConfig finds the management cluster: --kubeconfig, else in-cluster, else $KUBECONFIG, else
// ~/.kube/config.
func loadConfig(path string) (*rest.Config, error) {
	if path != "" {
		return clientcmd.BuildConfigFromFlags("", path)
	}
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules() // $KUBECONFIG, else ~/.kube/config
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no management cluster: not in a cluster, and no kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	return cfg, nil
}

// NamespaceFromEnv is the --namespace default: $POD_NAMESPACE, else egret-system.
func NamespaceFromEnv() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return DefaultNamespace
}

type adminServer struct {
	ln  net.Listener
	srv *http.Server
}

func serveAdmin(addr string, ready *atomic.Bool) (*adminServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "caches not synced", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	return &adminServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

func (a *adminServer) serve() error {
	if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (a *adminServer) close() { _ = a.srv.Close() }

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
