package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// APIServer is a running etcd + kube-apiserver pair on loopback, owned by one test.
type APIServer struct {
	// Name tells the API servers of a multi-cluster test apart (log file names, kubeconfig context).
	Name string
	// Dir holds the data, certificates, logs and the kubeconfig.
	Dir string
	// Kubeconfig is the path of a kubeconfig with cluster-admin rights (a static bearer token).
	Kubeconfig string
	// Config is the same as a client-go config.
	Config *rest.Config

	Clientset *kubernetes.Clientset
	Dynamic   *dynamic.DynamicClient

	// What Restart needs: the kube-apiserver's binary, arguments and running process.
	apiBin  string
	apiArgs []string
	api     *process
	owner   testing.TB // the test that started the server: the restarted process stops when it ends
}

// StartAPIServer starts etcd and kube-apiserver on free 127.0.0.1 ports with a fresh temporary
// directory and waits (up to 60 s) until /readyz answers ok. Everything stops when the test ends.
// Call it once per cluster for a test with several clusters.
func StartAPIServer(t testing.TB, name string) *APIServer {
	t.Helper()
	etcdBin := Binary(t, "etcd", "scripts/build-kube.sh")
	apiBin := Binary(t, "kube-apiserver", "scripts/build-kube.sh")

	dir := t.TempDir()
	ports := freePorts(t, 3)
	etcdClient, etcdPeer, securePort := ports[0], ports[1], ports[2]

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()

	startEtcd(ctx, t, dir, name, etcdBin, etcdClient, etcdPeer)

	saKey := filepath.Join(dir, "sa.key")
	writeRSAKey(t, saKey)
	token := "egret-test-admin-" + randomHex(t, 8)
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+`,egret-admin,egret-admin,"system:masters"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(dir, "certs")

	apiArgs := []string{
		"--etcd-servers", "http://" + loopback(etcdClient),
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(securePort),
		"--cert-dir", certDir,
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range", "10.96.0.0/24",
		"--disable-admission-plugins", "ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--endpoint-reconciler-type", "none",
	}
	api := startProcess(t, dir, name+"-kube-apiserver", nil, apiBin, apiArgs...)

	cfg := &rest.Config{
		Host:        "https://" + loopback(securePort),
		BearerToken: token,
		// The API server generates its own self-signed serving certificate in --cert-dir; it
		// appears only once the server runs, so the CA is filled in below.
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(certDir, "apiserver.crt")},
		QPS:             200,
		Burst:           400,
	}
	s := &APIServer{Name: name, Dir: dir, Config: cfg, apiBin: apiBin, apiArgs: apiArgs, api: api, owner: t}
	if err := s.waitReady(ctx); err != nil {
		t.Fatal(err)
	}
	s.Clientset = kubernetes.NewForConfigOrDie(cfg)
	s.Dynamic = dynamic.NewForConfigOrDie(cfg)
	s.writeKubeconfig(t, token)
	return s
}

// startEtcd starts etcd for one API server, serving clients on 127.0.0.1:client, and waits for its health.
func startEtcd(ctx context.Context, t testing.TB, dir, name, bin string, client, peer int) {
	t.Helper()
	etcd := startProcess(t, dir, name+"-etcd", nil, bin,
		"--name", "default",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", "http://"+loopback(client),
		"--advertise-client-urls", "http://"+loopback(client),
		"--listen-peer-urls", "http://"+loopback(peer),
		"--initial-advertise-peer-urls", "http://"+loopback(peer),
		"--initial-cluster", "default=http://"+loopback(peer),
		"--listen-metrics-urls", "",
		"--log-level", "warn",
	)
	if err := waitFor(ctx, etcd, "etcd", func(ctx context.Context) error {
		return httpOK(ctx, "http://"+loopback(client)+"/health")
	}); err != nil {
		t.Fatal(err)
	}
}

// writeKubeconfig writes s.Kubeconfig: the server, its CA and the admin token, in a context named s.Name.
func (s *APIServer) writeKubeconfig(t testing.TB, token string) {
	t.Helper()
	name, cfg := s.Name, s.Config
	s.Kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.TLSClientConfig.CAFile}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, s.Kubeconfig); err != nil {
		t.Fatal(err)
	}
}

func (s *APIServer) waitReady(ctx context.Context) error {
	cfg := s.Config
	return waitFor(ctx, s.api, "kube-apiserver", func(ctx context.Context) error {
		if _, err := os.Stat(cfg.TLSClientConfig.CAFile); err != nil {
			return err
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%v: %s", err, body)
		}
		return nil
	})
}

// StopAPI stops the kube-apiserver (SIGTERM, then SIGKILL), leaving etcd and its data running, so
// that a test can watch a client ride out an API server outage; StartAPI brings it back.
// readyTimeout bounds how long etcd and the kube-apiserver may take to become ready: on a loaded 2-core
// machine (go test runs packages in parallel, several starting API servers) a minute was seen to be short.
const readyTimeout = 3 * time.Minute

func (s *APIServer) StopAPI() { s.api.stop() }

// StartAPI starts the kube-apiserver again after StopAPI, on the same port, certificates and etcd
// (so the same kubeconfig works and every object is still there), and waits until it is ready.
func (s *APIServer) StartAPI(t testing.TB) {
	t.Helper()
	s.api = startProcess(s.owner, s.Dir, s.Name+"-kube-apiserver-restarted", nil, s.apiBin, s.apiArgs...)
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// KubeconfigData is the kubeconfig with the CA certificate embedded, as a Secret carries it (the
// shape of an Istio remote secret).
func (s *APIServer) KubeconfigData(t testing.TB) []byte {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := clientcmdapi.FlattenConfig(kc); err != nil {
		t.Fatal(err)
	}
	b, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Discovery returns a fresh discovery client (new CRDs show up in it).
func (s *APIServer) Discovery() discovery.DiscoveryInterface {
	return discovery.NewDiscoveryClientForConfigOrDie(s.Config)
}

func writeRSAKey(t testing.TB, path string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}
