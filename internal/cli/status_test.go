package cli

import (
	"context"
	"egret.dev/egret/internal/meshtest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/controlplane"
)

func TestGetAndStatusReadARunningControlPlane(t *testing.T) {
	cp, err := controlplane.New(controlplane.Params{ConfigDir: example, DataDir: t.TempDir(), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cp.Run(ctx)

	code, out, errw := run(t, "", "get", "routes", "--control-plane-admin", cp.AdminAddr())
	if code != ExitOK || !strings.Contains(out, "www.google.com:80 → cluster1/gloo-mesh-gateways/istio-egressgateway (listener 443→8443) → www.google.com:443 SIMPLE sni=www.google.com") {
		t.Errorf("get routes from the control plane: exit %d\n%s%s", code, out, errw)
	}
	code, out, errw = run(t, "", "status", "--admin", cp.AdminAddr())
	if code != ExitOK || !strings.Contains(out, "AccessPolicy bookinfo/egress-access-productpage        Accepted") {
		t.Errorf("status: exit %d\n%s%s", code, out, errw)
	}
	for _, format := range []string{"yaml", "json"} {
		code, out, errw = run(t, "", "status", "--admin", cp.AdminAddr(), "-o", format)
		if code != ExitOK || !strings.Contains(out, "egress-access-productpage") {
			t.Errorf("status -o %s: exit %d\n%s%s", format, code, out, errw)
		}
	}
	if code, _, errw = run(t, "", "status", "--admin", cp.AdminAddr(), "-o", "status.json"); code != ExitUsage || !strings.Contains(errw, "--out") {
		t.Errorf("status -o FILE: exit %d, %s; want a usage error pointing at --out", code, errw)
	}
	code, _, errw = run(t, "", "get", "routes")
	if code != ExitUsage || !strings.Contains(errw, "name resources with -f PATH") {
		t.Errorf("get without a source: exit %d, %s", code, errw)
	}
	code, _, errw = run(t, "", "status", "--admin", "127.0.0.1:1")
	if code != ExitError || !strings.Contains(errw, "control plane at 127.0.0.1:1") {
		t.Errorf("status of nothing: exit %d, %s", code, errw)
	}
}

func TestUpRefusesAnInvalidDirectory(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: x}\nspec: {serviceAccount: a, clustr: c}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errw := run(t, "", "up", "-f", dir, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	if code != ExitError || !strings.Contains(errw, `bad.yaml:4: Workload x: spec.clustr: unknown field "clustr" (did you mean "cluster"?)`) {
		t.Errorf("exit %d, stderr:\n%s", code, errw)
	}
}
