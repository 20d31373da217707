// Package install tests deploy/helm/egret against `egret install --dry-run`: the same objects for the
// same settings, both accepted by a real kube-apiserver, and the RBAC granting what the contract
// says and no more.
package install

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"egret.dev/egret/internal/cli"
	"egret.dev/egret/internal/kubetest"
)

// chartDir is deploy/helm/egret, from this package's directory.
var chartDir = filepath.Join("..", "..", "deploy", "helm", "egret")

// helm runs the helm binary scripts/build-helm.sh builds, with its config, cache and data folders in
// a temporary directory so nothing of the user's helm setup takes part.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := kubetest.Binary(t, "helm", "scripts/build-helm.sh")
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{
		"HOME=" + home,
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// egretInstall runs `egret install --dry-run ARGS` in-process and returns its standard output.
func egretInstall(t *testing.T, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{"install", "--dry-run"}, args...)
	if code := cli.Run(context.Background(), full, nil, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("egret %v: exit %d: %s", full, code, stderr.String())
	}
	return stdout.Bytes()
}

func decode(t *testing.T, what string, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kubetest.DecodeYAML(data)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no objects", what)
	}
	return objs
}

// byID indexes objects by "apiVersion kind namespace/name", failing on a duplicate.
func byID(t *testing.T, what string, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	m := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		id := objectID(u)
		if _, dup := m[id]; dup {
			t.Fatalf("%s: %s twice", what, id)
		}
		m[id] = u
	}
	return m
}

func objectID(u *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s %s/%s", u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName())
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
