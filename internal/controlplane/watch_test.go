package controlplane

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/meshtest"
)

// allowed asks the plan being served whether the gateway in cluster1 lets sa reach www.google.com.
func allowed(t *testing.T, cp *ControlPlane, sa string) bool {
	t.Helper()
	plan := cp.Plan()
	var gw string
	for _, g := range plan.Gateways {
		if g.Cluster == "cluster1" {
			gw = g.ID
		}
	}
	d := plan.Decide(ir.Request{Source: ir.NewSpiffeID("cluster1", "bookinfo", sa), Gateway: gw, Host: "www.google.com", Port: 80, Method: "GET", Path: "/"})
	return d.Allow
}

func hasWorkload(cp *ControlPlane, name string) bool {
	for _, w := range cp.Plan().Workloads {
		if w.Name == name {
			return true
		}
	}
	return false
}

const ratings = "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: ratings, namespace: bookinfo}\nspec: {serviceAccount: bookinfo-ratings, cluster: cluster1}\n"

func TestPipesAndSocketsInTheDirectoryAreSkipped(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	if err := syscall.Mkfifo(filepath.Join(dir, "00-pipe.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "01-socket.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	start := time.Now()
	cp := startCP(t, dir) // before: blocked for ever opening the pipe
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the first load took %v", took)
	}
	st := cp.Status()
	if len(st.Rejected) != 0 || len(cp.Plan().Workloads) != 2 {
		t.Fatalf("the example with a pipe and a socket beside it: rejected %v, %d workloads", st.Rejected, len(cp.Plan().Workloads))
	}
	warned := strings.Join(st.LoadWarnings, "\n")
	if !strings.Contains(warned, "00-pipe.yaml: warning: skipped: not a regular file (a named pipe)") ||
		!strings.Contains(warned, "01-socket.yaml: warning: skipped: not a regular file (a socket)") {
		t.Errorf("warnings: %q", warned)
	}
	// And later changes still apply.
	if err := os.WriteFile(filepath.Join(dir, "06-ratings.yaml"), []byte(ratings), 0o644); err != nil {
		t.Fatal(err)
	}
	meshtest.WaitFor(t, func() bool { return hasWorkload(cp, "ratings") })
}

// The layout of a Kubernetes ConfigMap volume: the files live in a timestamped hidden directory,
// `..data` links to it, and each visible name links through `..data`; an update writes a new directory
// and swaps `..data` atomically.
func TestAConfigMapStyleSymlinkSwapIsApplied(t *testing.T) {
	src := meshtest.CopyExample(t, nil)
	dir := t.TempDir()
	entries, _ := os.ReadDir(src)
	version := func(name string, edit func(file string, data []byte) []byte) {
		t.Helper()
		vdir := filepath.Join(dir, name)
		if err := os.Mkdir(vdir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, _ := os.ReadFile(filepath.Join(src, e.Name()))
			if err := os.WriteFile(filepath.Join(vdir, e.Name()), edit(e.Name(), data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_00_00_00.1", func(_ string, d []byte) []byte { return d })
	for _, e := range entries {
		if err := os.Symlink(filepath.Join("..data", e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	cp := startCP(t, dir)
	if st := cp.Status(); len(st.Rejected) != 0 || len(cp.Plan().Workloads) != 2 || !allowed(t, cp, "bookinfo-productpage") || allowed(t, cp, "bookinfo-reviews") {
		t.Fatalf("through the links: rejected %v, %d workloads (each file must be read once)", st.Rejected, len(cp.Plan().Workloads))
	}
	version("..2026_01_01_00_00_01.2", func(file string, d []byte) []byte {
		if file == policy {
			return []byte(strings.Replace(string(d), "name: bookinfo-productpage", "name: bookinfo-reviews", 1))
		}
		return d
	})
	meshtest.WaitFor(t, func() bool { return allowed(t, cp, "bookinfo-reviews") })
	if allowed(t, cp, "bookinfo-productpage") {
		t.Error("the old policy is still in force after the swap")
	}
}

func TestEditingASymlinksTargetIsNoticed(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	elsewhere := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.Rename(filepath.Join(dir, policy), elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, policy)); err != nil {
		t.Fatal(err)
	}
	// A link loop beside it must not hang the walk.
	if err := os.Symlink(".", filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	cp := startCP(t, dir)
	if allowed(t, cp, "bookinfo-reviews") || !allowed(t, cp, "bookinfo-productpage") {
		t.Fatal("the linked policy is not in force")
	}
	meshtest.Edit(t, filepath.Dir(elsewhere), filepath.Base(elsewhere), "name: bookinfo-productpage", "name: bookinfo-reviews")
	meshtest.WaitFor(t, func() bool { return allowed(t, cp, "bookinfo-reviews") })
}

const policyV2 = `apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata:
  name: egress-access-productpage
  namespace: bookinfo
spec:
  applyToDestinations:
  - kind: EXTERNAL_SERVICE
    selector: {name: google, namespace: bookinfo, cluster: cluster1}
  config:
    authn: {tlsMode: STRICT}
    authz:
      allowedClients:
      - serviceAccountSelector: {name: bookinfo-productpage}
      - serviceAccountSelector: {name: bookinfo-details}
`

// A policy file written in pieces (as a slow editor, a copy over the network or a configuration tool
// does: truncate, then write) must never be policy half-way: before, the empty file left right after
// the truncation was loaded, which removed the AccessPolicy and let every identity through.
func TestAPolicyWrittenInPiecesNeverAllowsMore(t *testing.T) {
	const debounce = 200 * time.Millisecond
	cut := strings.Index(policyV2, "bookinfo-det") // inside an unclosed {...}: does not parse
	chunks := []string{"", policyV2[:40], policyV2[40:200], policyV2[200:cut], policyV2[cut:]}
	tests := []struct {
		name string
		// pause after each chunk; long is the pause after the chunk that ends at the cut
		pause, long time.Duration
	}{
		{"pauses shorter than the debounce", 80 * time.Millisecond, 80 * time.Millisecond},
		{"a pause longer than the debounce on a line that does not parse", 80 * time.Millisecond, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := meshtest.CopyExample(t, nil)
			cp := startCPDebounced(t, dir, debounce) // polled every 20 ms
			if allowed(t, cp, "bookinfo-reviews") || allowed(t, cp, "bookinfo-details") {
				t.Fatal("the example's policy is not in force")
			}
			f, err := os.OpenFile(filepath.Join(dir, policy), os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for i, c := range chunks {
				if _, err := f.WriteString(c); err != nil {
					t.Fatal(err)
				}
				pause := tc.pause
				if i == 3 {
					pause = tc.long
					// Meanwhile another file changes: that change applies, the policy file's last good contents stay.
					if tc.long > tc.pause {
						if err := os.WriteFile(filepath.Join(dir, "06-ratings.yaml"), []byte(ratings), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
				for end := time.Now().Add(pause); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
					if allowed(t, cp, "bookinfo-reviews") {
						t.Fatalf("after chunk %d (%q) reviews is allowed: a half-written policy became policy", i, c)
					}
				}
				if i == 3 && tc.long > tc.pause {
					if !hasWorkload(cp, "ratings") {
						t.Error("the other file's change did not apply while the policy file was half-written")
					}
					if w := strings.Join(cp.Status().LoadWarnings, "\n"); !strings.Contains(w, policy) || !strings.Contains(w, "last good contents") {
						t.Errorf("load warnings %q, want the half-written policy file named", w)
					}
				}
			}
			meshtest.WaitFor(t, func() bool { return allowed(t, cp, "bookinfo-details") })
			if allowed(t, cp, "bookinfo-reviews") || !allowed(t, cp, "bookinfo-productpage") {
				t.Error("the final policy is not what was written")
			}
			if st := cp.Status(); len(st.LoadWarnings) != 0 || st.LoadError != "" || st.Loaded.IsZero() {
				t.Errorf("after the write: load warnings %v, error %q, loaded %v", st.LoadWarnings, st.LoadError, st.Loaded)
			}
		})
	}
}
