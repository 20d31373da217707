package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Istiod is a running pilot-discovery on loopback ports.
type Istiod struct {
	// XDSAddr is the plaintext xDS (ADS) gRPC address, istiod's 15010.
	XDSAddr string
	// HTTPAddr serves /ready and /debug/* (istiod's 8080).
	HTTPAddr string
	// ClusterID is the cluster name istiod was started with (node metadata CLUSTER_ID must match).
	ClusterID string
	proc      *process
}

// IstiodOptions configures StartIstiod.
type IstiodOptions struct {
	// ClusterID is istiod's --clusterID (default "Kubernetes", istiod's own default).
	ClusterID string
	// MeshConfig is the MeshConfig YAML istiod reads (its --meshConfig file), e.g.
	// "outboundTrafficPolicy: {mode: REGISTRY_ONLY}\ntrustDomain: cluster1\n".
	MeshConfig []byte
	// Env adds environment variables (PILOT_* feature flags) to istiod's.
	Env []string
}

// StartIstiod starts pilot-discovery against the API server, with every listener on a free
// 127.0.0.1 port, in namespace istio-system (created if missing), and waits (up to 90 s) until
// /ready answers 200. Apply the configuration first: istiod syncs its informers before it is ready,
// so the first xDS answer already reflects it.
func StartIstiod(t testing.TB, s *APIServer, o IstiodOptions) *Istiod {
	t.Helper()
	bin := Binary(t, "pilot-discovery", "scripts/build-istiod.sh")
	if o.ClusterID == "" {
		o.ClusterID = "Kubernetes"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := s.EnsureNamespace(ctx, "istio-system"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Dir, "istiod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mesh := filepath.Join(dir, "mesh.yaml")
	if err := os.WriteFile(mesh, o.MeshConfig, 0o644); err != nil {
		t.Fatal(err)
	}
	networks := filepath.Join(dir, "meshNetworks.yaml")
	if err := os.WriteFile(networks, []byte("networks: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 6)
	d := &Istiod{XDSAddr: loopback(p[0]), HTTPAddr: loopback(p[1]), ClusterID: o.ClusterID}
	env := append([]string{
		"POD_NAMESPACE=istio-system",
		"POD_NAME=istiod-egret-test",
		"REVISION=default",
		// istiod writes its CA and the injection templates' defaults under ./var and ./etc
		// relative to its working directory (dir).
	}, o.Env...)
	d.proc = startProcess(t, dir, s.Name+"-istiod", env, bin, "discovery",
		"--kubeconfig", s.Kubeconfig,
		"--meshConfig", mesh,
		"--networksConfig", networks,
		"--clusterID", o.ClusterID,
		"--domain", "cluster.local",
		"--grpcAddr", d.XDSAddr,
		"--httpAddr", d.HTTPAddr,
		"--secureGRPCAddr", loopback(p[2]),
		"--monitoringAddr", loopback(p[3]),
		"--httpsAddr", loopback(p[4]),
		"--ctrlz_address", "127.0.0.1",
		"--ctrlz_port", fmt.Sprint(p[5]),
		"--log_output_level", "default:info",
	)
	if err := waitFor(ctx, d.proc, "istiod", func(ctx context.Context) error {
		return httpOK(ctx, "http://"+d.HTTPAddr+"/ready")
	}); err != nil {
		t.Fatal(err)
	}
	return d
}

// Log returns the last n lines istiod printed (for failure messages).
func (d *Istiod) Log(n int) string { return d.proc.tail(n) }

// EnsureNamespace creates a namespace unless it exists.
func (s *APIServer) EnsureNamespace(ctx context.Context, name string) error {
	_, err := s.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}
