package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/crd"
	"egret.dev/egret/internal/install"
)

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, out, errw string)
	}{
		{
			name: "without --dry-run it says it only prints", args: []string{"install"}, wantCode: ExitUsage,
			check: func(t *testing.T, out, errw string) {
				if out != "" || !strings.Contains(errw, "egret install --dry-run | kubectl apply") {
					t.Errorf("stdout %q, stderr %q", out, errw)
				}
			},
		},
		{
			name: "yaml by default, the Namespace first", args: []string{"install", "--dry-run"},
			check: func(t *testing.T, out, _ string) {
				if !strings.HasPrefix(out, "---\napiVersion: v1\nkind: Namespace\n") || !strings.Contains(out, "kind: PodDisruptionBudget") {
					t.Errorf("unexpected output:\n%s", out)
				}
			},
		},
		{
			name: "json is a List of the same objects", args: []string{"install", "--dry-run", "-o", "json", "--local-cluster", "mgmt"},
			check: func(t *testing.T, out, _ string) {
				var list struct {
					Kind  string
					Items []struct{ Kind string }
				}
				if err := json.Unmarshal([]byte(out), &list); err != nil {
					t.Fatal(err)
				}
				objs, _ := install.Manifests(install.Options{LocalCluster: "mgmt", CreateNamespace: true})
				crds, _ := crd.All()
				if list.Kind != "List" || len(list.Items) != len(objs)+len(crds) {
					t.Errorf("kind %q with %d items, want a List of %d", list.Kind, len(list.Items), len(objs))
				}
			},
		},
		{
			name: "--out writes the file", args: []string{"install", "--dry-run", "--workload-cluster", "--out", filepath.Join(dir, "w.yaml")},
			check: func(t *testing.T, out, _ string) {
				b, err := os.ReadFile(filepath.Join(dir, "w.yaml"))
				if err != nil || out != "" || !strings.Contains(string(b), "name: egret-remote") {
					t.Errorf("stdout %q, file %q (%v)", out, b, err)
				}
			},
		},
		{
			name: "a bad namespace is a usage error naming it", args: []string{"install", "--dry-run", "-n", "Egret"}, wantCode: ExitUsage,
			check: func(t *testing.T, _, errw string) {
				if !strings.Contains(errw, `namespace "Egret"`) {
					t.Errorf("stderr %q", errw)
				}
			},
		},
		{
			name: "zero replicas is a usage error, not the default", args: []string{"install", "--dry-run", "--replicas", "0"}, wantCode: ExitUsage,
			check: func(t *testing.T, _, errw string) {
				if !strings.Contains(errw, "--replicas 0") {
					t.Errorf("stderr %q", errw)
				}
			},
		},
		{
			name: "-o with a file name gets the --out hint", args: []string{"install", "--dry-run", "-o", "x.yaml"}, wantCode: ExitUsage,
			check: func(t *testing.T, _, errw string) {
				if !strings.Contains(errw, "--out x.yaml") {
					t.Errorf("stderr %q", errw)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errw := run(t, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantCode, errw)
			}
			tt.check(t, out, errw)
		})
	}
}

// TestInstallPrintsTheGeneratedCRDs: after the Namespace come the CRDs internal/crd generates (the
// chart's crds/ files), before anything that runs in the namespace.
func TestInstallPrintsTheGeneratedCRDs(t *testing.T) {
	code, out, errw := run(t, "", "install", "--dry-run")
	if code != ExitOK || !strings.HasPrefix(out, "---\napiVersion: v1\nkind: Namespace\n") {
		t.Fatalf("exit %d, stderr %q, output:\n%s", code, errw, out)
	}
	crds, err := crd.All()
	if err != nil {
		t.Fatal(err)
	}
	sa := strings.Index(out, "kind: ServiceAccount")
	for _, c := range crds {
		at := strings.Index(out, "name: "+c.Name+"\n")
		if at < 0 || sa < 0 || at > sa {
			t.Errorf("CRD %s at %d, ServiceAccount at %d", c.Name, at, sa)
		}
	}
}
