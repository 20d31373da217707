// Package kubernetes tests egret's controller as it is installed: the CRDs and RBAC exactly as
// `egret install --dry-run` prints them, applied to a real management kube-apiserver; the controller
// running as the chart's ServiceAccount (a real token from the TokenRequest API, so the API server's
// RBAC authorizer decides every call); and a workload cluster reached only as the least-privilege
// ServiceAccount of deploy/workload-cluster-rbac.yaml.
package kubernetes

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"egret.dev/egret/internal/cli"
	"egret.dev/egret/internal/controller"
	"egret.dev/egret/internal/kubetest"
)

const (
	// ns is the controller's namespace (the install's default); sa its ServiceAccount (the release name).
	ns = "egret-system"
	sa = "egret"
	// remoteSA is the workload cluster's ServiceAccount of deploy/workload-cluster-rbac.yaml.
	remoteSA = "egret-remote"
)

// repo is the repository root, from this package's directory.
var repo = filepath.Join("..", "..")

// installManagement applies to the management cluster what `egret install --dry-run ARGS` prints,
// as a user would pipe it to kubectl apply, without the Deployment and PodDisruptionBudget: the
// controller runs in the test's process instead of a pod (no kubelet here).
func installManagement(t *testing.T, mgmt *kubetest.APIServer, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{"install", "--dry-run"}, args...)
	if code := cli.Run(context.Background(), full, nil, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("egret %v: exit %d: %s", full, code, stderr.String())
	}
	objs, err := kubetest.DecodeYAML(stdout.Bytes())
	if err != nil {
		t.Fatalf("egret install --dry-run output: %v", err)
	}
	var keep []*unstructured.Unstructured
	kinds := map[string]int{}
	for _, u := range objs {
		switch u.GetKind() {
		case "Deployment", "PodDisruptionBudget":
			continue
		}
		kinds[u.GetKind()]++
		keep = append(keep, u)
	}
	if kinds["CustomResourceDefinition"] != 11 || kinds["ClusterRole"] == 0 || kinds["Role"] != 1 {
		t.Fatalf("egret install --dry-run printed %v, want the 11 CRDs and the RBAC", kinds)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := mgmt.Apply(ctx, keep); err != nil {
		t.Fatalf("apply egret install --dry-run: %v", err)
	}
}

// installWorkload applies deploy/workload-cluster-rbac.yaml (the file a user applies) and Istio's CRDs
// to a workload cluster.
func installWorkload(t *testing.T, work *kubetest.APIServer) {
	t.Helper()
	work.LoadIstioCRDs(t)
	b, err := os.ReadFile(filepath.Join(repo, "deploy", "workload-cluster-rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := work.ApplyYAML(ctx, b); err != nil {
		t.Fatalf("apply deploy/workload-cluster-rbac.yaml: %v", err)
	}
}

// token asks the API server's TokenRequest API for a token of a ServiceAccount (what
// `kubectl create token` does): the API server authenticates it as that account, so its RBAC
// decides every call made with it.
func token(t *testing.T, s *kubetest.APIServer, namespace, name string) string {
	t.Helper()
	exp := int64(2 * 3600)
	tr, err := s.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// asServiceAccount is the API server's address and CA with a ServiceAccount's token instead of the
// harness's cluster-admin token.
func asServiceAccount(t *testing.T, s *kubetest.APIServer, namespace, name string) *rest.Config {
	t.Helper()
	return &rest.Config{
		Host:            s.Config.Host,
		BearerToken:     token(t, s, namespace, name),
		TLSClientConfig: rest.TLSClientConfig{CAFile: s.Config.TLSClientConfig.CAFile},
		QPS:             100,
		Burst:           200,
	}
}

// remoteKubeconfig is the kubeconfig the management cluster's workload-cluster Secret holds for a
// cluster: its address, CA and a token of egret-remote, the least-privilege account there.
func remoteKubeconfig(t *testing.T, work *kubetest.APIServer, cluster string) []byte {
	t.Helper()
	return kubeconfigFor(t, work, cluster, token(t, work, ns, remoteSA))
}

// kubeconfigFor is a kubeconfig for the API server with the CA embedded and egret-remote's token.
func kubeconfigFor(t *testing.T, work *kubetest.APIServer, cluster, tok string) []byte {
	t.Helper()
	ca, err := os.ReadFile(work.Config.TLSClientConfig.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[cluster] = &clientcmdapi.Cluster{Server: work.Config.Host, CertificateAuthorityData: ca}
	kc.AuthInfos[remoteSA] = &clientcmdapi.AuthInfo{Token: tok}
	kc.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: remoteSA}
	kc.CurrentContext = cluster
	b, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// workloadSecret is the management cluster's Secret naming a workload cluster.
func workloadSecret(cluster string, kubeconfig []byte) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "egret-" + cluster, "namespace": ns,
			"labels": map[string]any{controller.WorkloadClusterLabel: "true"}},
		"stringData": map[string]any{cluster: string(kubeconfig)},
	}}
}

// runController runs the controller in-process against cfg (the chart's ServiceAccount) with the
// flags the chart's Deployment passes (--namespace, --leader-elect, --admin), until the test ends.
func runController(t *testing.T, cfg *rest.Config, localCluster, admin string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, controller.Options{
			Config:       cfg,
			Namespace:    ns,
			LocalCluster: localCluster,
			LeaderElect:  true,
			Admin:        admin,
			Log:          slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Resync:       time.Second,
		})
	}()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("controller: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("controller did not stop")
			}
		})
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log("controller: " + strings.TrimSpace(string(p)))
	return len(p), nil
}

// freeAddr is a 127.0.0.1 address with a port that was free a moment ago (the controller's --admin
// takes an address, not a listener).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func applySeed(t *testing.T, mgmt *kubetest.APIServer) {
	mgmt.ApplySeed(t, filepath.Join(repo, "examples", "bookinfo-egress"))
}

var eventually = kubetest.Eventually

// cluster is one API server seen through the harness's admin client.
type cluster struct{ *kubetest.APIServer }

// rendered checks that the seed's rendered objects are in the cluster.
func (c cluster) rendered() error {
	for _, o := range []struct {
		gvr             schema.GroupVersionResource
		namespace, name string
	}{
		{kubetest.ServiceEntries, "bookinfo", "externalservice-google-bookinfo"},
		{kubetest.Gateways, "gloo-mesh-gateways", "virtualgateway-istio-egressgateway-bookinfo-istio-egressgateway"},
		{kubetest.VirtualServices, "bookinfo", "externalservice-google-bookinfo-www-google-com"},
		{kubetest.DestinationRules, "gloo-mesh-gateways", "externalservice-google-bookinfo-www-google-com"},
	} {
		ok, err := c.Exists(o.gvr, o.namespace, o.name)
		if err != nil || !ok {
			return fmt.Errorf("%s %s/%s missing (%v)", o.gvr.Resource, o.namespace, o.name, err)
		}
	}
	return nil
}

func (c cluster) hasPrincipal(sa string) func() error { return c.HasSeedPrincipal(sa) }

func (c cluster) wantCondition(gvr schema.GroupVersionResource, name, typ, status, reason, msgPart string) func() error {
	return c.WantCondition(gvr, name, typ, status, reason, msgPart)
}

func (c cluster) setAllowedClient(t *testing.T, sa string) { c.SetSeedAllowedClient(t, sa) }
