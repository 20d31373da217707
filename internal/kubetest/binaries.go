// Package kubetest starts real Kubernetes and Istio control-plane processes for tests: etcd and
// kube-apiserver on loopback ports with a temporary data directory, Istio's CRDs, and istiod
// (pilot-discovery) against that API server, plus a small ADS client that asks istiod for the
// Envoy configuration it would send a proxy.
//
// The binaries come from scripts/build-kube.sh and scripts/build-istiod.sh (cached in
// $EGRET_TOOLS_DIR/bin, default ~/.cache/egret/tools/bin). A test that needs one skips with a
// clear reason when it is missing, and fails instead under CI=true.
//
// Only tests import this package; it must never be linked into egret's binary.
package kubetest

import (
	"os"
	"path/filepath"
	"testing"
)

// ToolsBin is the folder the build scripts put their binaries in.
func ToolsBin() string {
	if d := os.Getenv("EGRET_TOOLS_DIR"); d != "" {
		return filepath.Join(d, "bin")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "egret", "tools", "bin")
}

// Binary returns the path of a tool built by the repo's scripts (kube-apiserver, etcd,
// pilot-discovery). When it is missing the test is skipped, or failed under CI=true, with a
// message naming the script that builds it.
func Binary(t testing.TB, name, script string) string {
	t.Helper()
	p := filepath.Join(ToolsBin(), name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s missing under CI (looked for %s); .ci/run must run %s first", name, p, script)
	}
	t.Skipf("%s not built (looked for %s); run %s (or set EGRET_TOOLS_DIR)", name, p, script)
	return ""
}
