package file

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"egret.dev/egret/internal/api"
)

func TestADirectoryWalkSkipsWhatCannotBeReadSafely(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "w.yaml"), workload)
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "sock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, l := range [][2]string{{"missing.yaml", "broken.yaml"}, {"self.yaml", "self.yaml"}, {".", "loop"}, {"sub", "again"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "sub", "v.yaml"), strings.Replace(workload, "name: w", "name: v", 1))

	done := make(chan struct{})
	var snap *api.Snapshot
	go func() { defer close(done); snap, err = Load([]string{dir}, Options{}) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the load hangs")
	}
	var ps api.Problems
	if !errors.As(err, &ps) || len(ps.Errors()) != 0 {
		t.Fatalf("want warnings only, got %v", err)
	}
	got := ps.Error()
	for _, want := range []string{"pipe.yaml: warning: skipped: not a regular file (a named pipe)", "sock.yaml: warning: skipped: not a regular file (a socket)",
		"broken.yaml: warning: skipped: no such file or directory", "self.yaml: warning: skipped: too many levels of symbolic links"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if len(snap.Workloads) != 2 {
		t.Errorf("want w and v once each (through links and loops), got %d workloads", len(snap.Workloads))
	}
}

func TestALoadStopsWhenItsContextEnds(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := LoadContext(ctx, []string{fifo}, Options{}) // a pipe named on its own is read, so it waits
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("got %v after %v", err, time.Since(start))
	}
}

func TestAFileOverTheSizeLimitIsAProblem(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "big.yaml"), workload+strings.Repeat("# padding\n", 200_000))
	_, err := Load([]string{dir}, Options{MaxFileSize: 1 << 20})
	var ps api.Problems
	if !errors.As(err, &ps) || !strings.Contains(ps.Error(), "big.yaml: larger than 1 MiB, the limit for one resource file") {
		t.Errorf("got %v", err)
	}
}

func TestABrokenFileKeepsItsLastGoodContents(t *testing.T) {
	dir := t.TempDir()
	w, v := filepath.Join(dir, "w.yaml"), filepath.Join(dir, "v.yaml")
	write(t, w, workload)
	d := NewDir(dir, Options{})
	load := func() (*api.Snapshot, api.Problems) {
		t.Helper()
		snap, err := d.Load(context.Background())
		var ps api.Problems
		if err != nil && !errors.As(err, &ps) {
			t.Fatal(err)
		}
		d.Commit()
		return snap, ps
	}
	load()
	write(t, w, strings.Replace(workload, "serviceAccount: sa", "serviceAccount: [sa", 1))
	write(t, v, strings.Replace(workload, "name: w", "name: v", 1))
	snap, ps := load()
	if len(snap.Workloads) != 2 || len(ps.Errors()) != 0 || !strings.Contains(ps.Error(), "w.yaml:3: warning: invalid YAML") || !strings.Contains(ps.Error(), "last good contents are still used") {
		t.Errorf("a file broken after it was good: %d workloads, %v", len(snap.Workloads), ps)
	}
	// A new file that never decoded has nothing to fall back on.
	write(t, filepath.Join(dir, "x.yaml"), "kind: [")
	if _, ps := load(); len(ps.Errors()) != 1 || !strings.Contains(ps.Errors()[0].Error(), "x.yaml") {
		t.Errorf("a new broken file: %v", ps)
	}
}

func TestOnlyChangedFilesAreDecodedAgain(t *testing.T) {
	dir := t.TempDir()
	w, v := filepath.Join(dir, "w.yaml"), filepath.Join(dir, "v.yaml")
	write(t, w, workload)
	write(t, v, strings.Replace(workload, "name: w", "name: v", 1))
	d := NewDir(dir, Options{})
	load := func() map[string]*api.Workload {
		t.Helper()
		snap, err := d.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		d.Commit()
		out := map[string]*api.Workload{}
		for _, o := range snap.Workloads {
			out[o.Metadata.Name] = o
		}
		return out
	}
	first := load()
	write(t, v, strings.Replace(workload, "name: w", "name: v", 1)+"# edited\n")
	second := load()
	if first["w"] != second["w"] {
		t.Error("an unchanged file was decoded again")
	}
	if first["v"] == second["v"] {
		t.Error("a changed file was not decoded again")
	}
	if second["w"].Metadata.Namespace == "" || second["w"].Spec.Sidecar == nil {
		t.Error("objects handed out again lost their defaults")
	}
	// Contents changed and changed back are decoded again too: only equal bytes are reused.
	write(t, w, workload+"# edited\n")
	if third := load(); third["w"] == second["w"] {
		t.Error("a changed file was not decoded again")
	}
}
