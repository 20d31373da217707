package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"egret.dev/egret/internal/controlplane"
	"egret.dev/egret/internal/meshtest"
)

// Ctrl-C (the cancelled context) stops a command while its load waits on input that never comes:
// before, `egret validate -f pipe.yaml` with no writer hung until killed.
func TestCtrlCStopsALoadWaitingForInput(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	stdin, w := io.Pipe() // standard input that never ends
	defer w.Close()
	tests := []struct {
		name string
		args []string
	}{
		{"validate on a named pipe with no writer", []string{"validate", "-f", fifo}},
		{"check on a named pipe with no writer", []string{"check", "-f", fifo, "--from", "spiffe://c/ns/n/sa/a", "--to", "http://example.com/"}},
		{"validate on standard input that never ends", []string{"validate", "-f", "-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			var out, errw bytes.Buffer
			done := make(chan int, 1)
			start := time.Now()
			go func() { done <- Run(ctx, tc.args, stdin, &out, &errw) }()
			select {
			case code := <-done:
				if took := time.Since(start); code != ExitError || took > 2*time.Second || !strings.Contains(errw.String(), "context canceled") {
					t.Errorf("exit %d after %v, stderr %q", code, took, errw.String())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("still loading 5s after Ctrl-C")
			}
		})
	}
}

func TestUpStopsOnCtrlCWhileLoading(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	if err := syscall.Mkfifo(filepath.Join(dir, "00-pipe.yaml"), 0o644); err != nil {
		t.Fatal(err) // skipped by the control plane; it must not wait on it
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	code := Run(ctx, []string{"up", "-f", dir, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, nil, io.Discard, io.Discard)
	if took := time.Since(start); code != ExitError || took > 5*time.Second {
		t.Errorf("up with Ctrl-C pressed: exit %d after %v", code, took)
	}
}

func TestStatusShowsTheLastLoadOfTheDirectory(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	if err := syscall.Mkfifo(filepath.Join(dir, "00-pipe.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, err := controlplane.New(controlplane.Params{ConfigDir: dir, DataDir: t.TempDir(), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
		Poll: 20 * time.Millisecond, Debounce: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cp.Run(ctx)

	code, out, errw := run(t, "", "status", "--admin", cp.AdminAddr())
	if code != ExitOK || !strings.Contains(out, "Directory "+dir+" last loaded ") || !strings.Contains(out, ": applied\n") ||
		!strings.Contains(out, "00-pipe.yaml: warning: skipped: not a regular file (a named pipe)") {
		t.Errorf("status: exit %d\n%s%s", code, out, errw)
	}
	meshtest.Edit(t, dir, "03-external-service.yaml", "portMatch: 80", "portMatch: 0x1ffff")
	meshtest.WaitFor(t, func() bool { return cp.Status().LoadError != "" })
	code, out, errw = run(t, "", "status", "--admin", cp.AdminAddr())
	if code != ExitOK || !strings.Contains(out, "last loaded ") || !strings.Contains(out, ": FAILED: 1 error; the last good configuration is still served") ||
		!strings.Contains(out, "must be 1-65535") {
		t.Errorf("status after a rejected change: exit %d\n%s%s", code, out, errw)
	}
	_ = os.Remove(filepath.Join(dir, "00-pipe.yaml"))
}
