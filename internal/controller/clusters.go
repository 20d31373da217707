package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WorkloadClusterLabel selects the Secrets that name workload clusters: each data key is a cluster
// name and its value a kubeconfig (the shape of an Istio remote secret).
const WorkloadClusterLabel = "egret.dev/workload-cluster"

// clusterSource is one workload cluster as configured: its name and how to reach it.
type clusterSource struct {
	name   string
	key    string
	config func() (*rest.Config, error)
	origin string // what configured it, for messages
}

// workloadClusters lists the clusters the Secrets (and --local-cluster) name, sorted by name. Two
// sources naming one cluster is a configuration error, reported and not guessed at.
func (r *reconciler) workloadClusters(ctx context.Context) ([]clusterSource, []error) {
	var secrets corev1.SecretList
	if err := r.mgmt.List(ctx, &secrets, client.InNamespace(r.namespace), client.MatchingLabels{WorkloadClusterLabel: "true"}); err != nil {
		return nil, []error{fmt.Errorf("listing workload-cluster Secrets in %s: %w", r.namespace, err)}
	}
	byName := map[string]clusterSource{}
	var errs []error
	add := func(cs clusterSource) {
		if prev, ok := byName[cs.name]; ok {
			errs = append(errs, fmt.Errorf("cluster %q is named by both %s and %s; using %s", cs.name, prev.origin, cs.origin, prev.origin))
			return
		}
		byName[cs.name] = cs
	}
	if r.localCluster != "" {
		add(clusterSource{name: r.localCluster, key: "local", origin: "--local-cluster",
			config: func() (*rest.Config, error) { return rest.CopyConfig(r.localConfig), nil }})
	}
	sort.Slice(secrets.Items, func(i, j int) bool { return secrets.Items[i].Name < secrets.Items[j].Name })
	for _, s := range secrets.Items {
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			data := s.Data[k]
			sum := sha256.Sum256(data)
			add(clusterSource{name: k, key: hex.EncodeToString(sum[:]), origin: "Secret " + s.Namespace + "/" + s.Name,
				config: func() (*rest.Config, error) { return clientcmd.RESTConfigFromKubeConfig(data) }})
		}
	}
	out := make([]clusterSource, 0, len(byName))
	for _, cs := range byName {
		out = append(out, cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, errs
}

// client returns the cluster's client, built again only when its credentials changed.
func (r *reconciler) client(cs clusterSource) (*cluster, error) {
	r.clientsMu.Lock()
	defer r.clientsMu.Unlock()
	if c, ok := r.clients[cs.name]; ok && c.key == cs.key {
		return c, nil
	}
	cfg, err := cs.config()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of cluster %s (%s): %w", cs.name, cs.origin, err)
	}
	cfg.UserAgent = "egret-controller"
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second // a dead API server fails this pass; the next one retries
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = clientQPS, clientBurst
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s (%s): %w", cs.name, cs.origin, err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s (%s): %w", cs.name, cs.origin, err)
	}
	c := &cluster{name: cs.name, key: cs.key, dyn: dyn, meta: md, onWrite: r.onWrite}
	r.clients[cs.name] = c
	return c, nil
}
