package kubernetes

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"egret.dev/egret/internal/cli"
	"egret.dev/egret/internal/kubetest"
)

var update = flag.Bool("update", false, "write testdata/walkthrough.txt, the kubectl transcript docs/kubernetes.md quotes")

// TestWalkthroughWithKubectl is docs/kubernetes.md's walkthrough, run with the real kubectl against a
// management and a workload cluster: install, connect the workload cluster, apply the seed, read
// the status columns and the rendered objects, describe an invalid resource, delete and see the
// garbage collected. With -update it writes the transcript (commands and their real output) to
// testdata/walkthrough.txt; the docs quote it, trimmed.
func TestWalkthroughWithKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two etcd + kube-apiserver pairs")
	}
	kubectl := kubetest.Binary(t, "kubectl", "scripts/build-kube.sh")
	mgmtAPI := kubetest.StartAPIServer(t, "management")
	workAPI := kubetest.StartAPIServer(t, "cluster1")
	mgmt, work := cluster{mgmtAPI}, cluster{workAPI}
	workAPI.LoadIstioCRDs(t) // an Istio installation brings them; not part of the transcript

	// One kubeconfig with a context per cluster (cluster-admin: the platform team's).
	dir := t.TempDir()
	kc := clientcmdapi.NewConfig()
	for ctxName, s := range map[string]*kubetest.APIServer{"mgmt": mgmtAPI, "cluster1": workAPI} {
		one, err := clientcmd.LoadFromFile(s.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		kc.Clusters[ctxName] = one.Clusters[s.Name]
		kc.AuthInfos[ctxName] = one.AuthInfos[s.Name]
		kc.Contexts[ctxName] = &clientcmdapi.Context{Cluster: ctxName, AuthInfo: ctxName}
	}
	kc.CurrentContext = "mgmt"
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}

	var transcript strings.Builder
	run := func(stdin []byte, shown string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Dir = repo
		cmd.Env = []string{"KUBECONFIG=" + kubeconfig, "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if shown == "" {
			shown = "kubectl " + strings.Join(args, " ")
		}
		fmt.Fprintf(&transcript, "$ %s\n%s\n", shown, out)
		return string(out)
	}
	mustContain := func(out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("no %q in:\n%s", w, out)
			}
		}
	}

	// Install into the management cluster.
	run(nil, "", "--context", "mgmt", "apply", "--server-side", "-f", "deploy/helm/egret/crds")
	var install, stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"install", "--dry-run"}, nil, &install, &stderr); code != cli.ExitOK {
		t.Fatalf("egret install --dry-run: exit %d: %s", code, stderr.String())
	}
	mustContain(run(install.Bytes(), "egret install --dry-run | kubectl --context mgmt apply --server-side -f -",
		"--context", "mgmt", "apply", "--server-side", "-f", "-"),
		"clusterrole.rbac.authorization.k8s.io/egret-controller serverside-applied", "deployment.apps/egret serverside-applied")

	// Connect the workload cluster: its RBAC, then a kubeconfig of egret-remote in a labelled Secret.
	run(nil, "", "--context", "cluster1", "apply", "-f", "deploy/workload-cluster-rbac.yaml")
	// The token comes from the TokenRequest API (kubectl create token): these test clusters run no
	// token controller to fill egret-remote-token. The shell assignment prints nothing.
	args := []string{"--context", "cluster1", "-n", "egret-system", "create", "token", "egret-remote", "--duration=24h"}
	tok := strings.TrimSpace(runQuiet(t, kubectl, kubeconfig, dir, args...))
	fmt.Fprintf(&transcript, "$ token=$(kubectl %s)\n\n", strings.Join(args, " "))
	remote := filepath.Join(dir, "cluster1.kubeconfig")
	if err := os.WriteFile(remote, kubeconfigFor(t, workAPI, "cluster1", tok), 0o600); err != nil {
		t.Fatal(err)
	}
	run(nil, "kubectl --context mgmt -n egret-system create secret generic egret-cluster1 --from-file=cluster1=cluster1.kubeconfig",
		"--context", "mgmt", "-n", "egret-system", "create", "secret", "generic", "egret-cluster1", "--from-file=cluster1="+remote)
	run(nil, "", "--context", "mgmt", "-n", "egret-system", "label", "secret", "egret-cluster1", "egret.dev/workload-cluster=true")

	// The Deployment has no kubelet to run it here: the controller runs in this process, as the
	// Deployment's ServiceAccount would.
	runController(t, asServiceAccount(t, mgmtAPI, ns, sa), "", "")

	// The seed.
	run(nil, "", "--context", "mgmt", "create", "namespace", "bookinfo")
	run(nil, "", "--context", "mgmt", "create", "namespace", "gloo-mesh")
	run(nil, "", "--context", "mgmt", "apply", "-f", "examples/bookinfo-egress")
	eventually(t, 90*time.Second, "Programmed", mgmt.wantCondition(kubetest.ExternalServices, "google", "Programmed", "True", "Programmed", "cluster1"))
	eventually(t, 30*time.Second, "Programmed", mgmt.wantCondition(kubetest.AccessPolicies, "egress-access-productpage", "Programmed", "True", "Programmed", "cluster1"))
	mustContain(run(nil, "", "--context", "mgmt", "get", "externalservices,accesspolicies", "-A"),
		"ACCEPTED", "PROGRAMMED", "google", "egress-access-productpage")
	mustContain(run(nil, "", "--context", "cluster1", "get", "serviceentries,virtualservices,destinationrules,gateways,authorizationpolicies", "-A", "-L", "app.kubernetes.io/managed-by"),
		"externalservice-google-bookinfo", "accesspolicy-egress-access-productpage")
	jp := `{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}`
	run(nil, "kubectl --context mgmt -n bookinfo get externalservice google -o jsonpath='"+jp+"'",
		"--context", "mgmt", "-n", "bookinfo", "get", "externalservice", "google", "-o", "jsonpath="+jp)

	// A resource the schema accepts and egret refuses: two ports named alike.
	bad := "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata:\n  name: bad\n  namespace: bookinfo\nspec:\n  hosts: [bad.example]\n  ports:\n  - {name: http, number: 80, protocol: HTTP}\n  - {name: http, number: 8080, protocol: HTTP}\n"
	fmt.Fprintf(&transcript, "$ cat bad.yaml\n%s\n", bad)
	run([]byte(bad), "kubectl --context mgmt apply -f bad.yaml", "--context", "mgmt", "apply", "-f", "-")
	eventually(t, 30*time.Second, "Accepted=False", mgmt.wantCondition(kubetest.ExternalServices, "bad", "Accepted", "False", "Invalid", "already the name"))
	mustContain(run(nil, "", "--context", "mgmt", "-n", "bookinfo", "describe", "externalservice", "bad"),
		"Invalid", "Warning")
	run(nil, "", "--context", "mgmt", "get", "externalservices", "-n", "bookinfo")

	// Garbage collection.
	run(nil, "", "--context", "mgmt", "-n", "bookinfo", "delete", "externalservice", "google")
	eventually(t, 30*time.Second, "the google objects gone", func() error {
		for _, o := range []struct {
			what, ns, name string
		}{
			{"serviceentries", "bookinfo", "externalservice-google-bookinfo"},
			{"serviceentries", "gloo-mesh-gateways", "externalservice-google-bookinfo"},
			{"virtualservices", "bookinfo", "externalservice-google-bookinfo-www-google-com"},
		} {
			gvr := kubetest.ServiceEntries
			if o.what == "virtualservices" {
				gvr = kubetest.VirtualServices
			}
			if ok, err := work.Exists(gvr, o.ns, o.name); ok || err != nil {
				return fmt.Errorf("%s %s/%s still there (%v)", o.what, o.ns, o.name, err)
			}
		}
		return nil
	})
	mustContain(run(nil, "", "--context", "cluster1", "get", "serviceentries,virtualservices", "-A"), "No resources found")

	if *update {
		if err := os.WriteFile(filepath.Join("testdata", "walkthrough.txt"), []byte(transcript.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runQuiet runs kubectl and returns its standard output, for what the transcript does not show.
func runQuiet(t *testing.T, kubectl, kubeconfig, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubectl, args...)
	cmd.Env = []string{"KUBECONFIG=" + kubeconfig, "HOME=" + home}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
