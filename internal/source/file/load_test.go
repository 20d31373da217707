package file

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/api"
)

const mesh = "apiVersion: egret.dev/v1alpha1\nkind: Mesh\nmetadata: {name: m}\nspec:\n  trustDomain: ${TD}\n"
const workload = "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: w, namespace: n}\nspec: {serviceAccount: sa, cluster: c1}\n"

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadWalksDirectoriesAndSkipsWhatIsNotAResource(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a", "b", "w.yml"), workload)
	write(t, filepath.Join(dir, "notes.txt"), "not yaml: [")
	write(t, filepath.Join(dir, ".hidden.yaml"), "not yaml: [")
	write(t, filepath.Join(dir, ".git", "x.yaml"), "not yaml: [")
	snap, err := Load([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Workloads) != 1 || snap.Workloads[0].Spec.Sidecar.Mode != api.SidecarExplicit {
		t.Fatalf("want the one workload, defaulted; got %+v", snap.Workloads)
	}
}

func TestLoadExpandsEnvironmentOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "m.yaml"), mesh)
	_, err := Load([]string{dir}, Options{})
	var ps api.Problems
	if !errors.As(err, &ps) || !strings.Contains(ps.Error(), "looks like an unexpanded shell variable") {
		t.Fatalf("without --expand-env: %v", err)
	}
	snap, err := Load([]string{dir}, Options{ExpandEnv: true, Getenv: func(k string) string { return map[string]string{"TD": "prod"}[k] }})
	if err != nil || snap.Meshes[0].Spec.TrustDomain != "prod" {
		t.Fatalf("with --expand-env: %v", err)
	}
}

func TestLoadKeepsGoodObjectsAndReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "1.yaml"), workload)
	write(t, filepath.Join(dir, "2.yaml"), "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: x}\nspec: {nope: 1}\n")
	snap, err := Load([]string{dir}, Options{})
	var ps api.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), filepath.Join(dir, "2.yaml")+":4: Workload x: spec.nope") {
		t.Fatalf("problems: %v", err)
	}
	if len(snap.Workloads) != 1 {
		t.Errorf("the valid file's object was lost")
	}
}

func TestLoadReadsStandardInputAndNamesMissingFiles(t *testing.T) {
	snap, err := Load([]string{"-"}, Options{Stdin: strings.NewReader(workload)})
	if err != nil || len(snap.Workloads) != 1 || snap.Workloads[0].Src.File != "<stdin>" {
		t.Fatalf("stdin: %v", err)
	}
	if _, err := Load([]string{filepath.Join(t.TempDir(), "missing.yaml")}, Options{}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := Load(nil, Options{}); err == nil || !strings.Contains(err.Error(), "-f") {
		t.Errorf("no input: %v", err)
	}
}
