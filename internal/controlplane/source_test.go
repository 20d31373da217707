package controlplane

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/source"
	"egret.dev/egret/internal/source/file"
)

// pushedSource is a source.Watched that is not a directory (as the Kubernetes source is not): it
// serves whatever directory it is pointed at, and says so on Changed.
type pushedSource struct {
	mu      sync.Mutex
	dir     string
	changed chan struct{}
}

var _ source.Watched = (*pushedSource)(nil)

func (s *pushedSource) Load(ctx context.Context) (*api.Snapshot, error) {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	return file.LoadContext(ctx, []string{dir}, file.Options{})
}

func (s *pushedSource) Changed() <-chan struct{} { return s.changed }

func (s *pushedSource) pointAt(dir string) {
	s.mu.Lock()
	s.dir = dir
	s.mu.Unlock()
	s.changed <- struct{}{}
}

func TestTheControlPlaneReadsAnySource(t *testing.T) {
	withPolicy := meshtest.CopyExample(t, nil)
	withoutPolicy := meshtest.CopyExample(t, nil)
	if err := os.Remove(filepath.Join(withoutPolicy, policy)); err != nil {
		t.Fatal(err)
	}
	src := &pushedSource{dir: withPolicy, changed: make(chan struct{})}
	cp, stop := runCP(t, Params{Source: src, DataDir: t.TempDir(), Listen: "127.0.0.1:0", Admin: ""})
	if n := len(cp.Plan().Policies); n != 1 {
		t.Fatalf("the initial load has %d policies, want 1", n)
	}
	src.pointAt(withoutPolicy)
	deadline := time.Now().Add(10 * time.Second)
	for len(cp.Plan().Policies) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the change the source announced was not applied")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after ctx ended: %v", err)
	}
	if err := cp.Close(); err != nil {
		t.Fatalf("closing again: %v", err)
	}
}

func TestAListenerThatStopsServingStopsTheControlPlane(t *testing.T) {
	cp, err := New(Params{ConfigDir: meshtest.CopyExample(t, nil), DataDir: t.TempDir(), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cp.Run(context.Background()) }()
	admin := cp.AdminAddr()
	// The TLS listener closed under the server, as a dying socket would be.
	cp.tlsLn.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "control plane") {
			t.Fatalf("Run returned %v, want the listener's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept going without its TLS listener")
	}
	// Stopping closed the rest: the admin port no longer answers.
	if c, err := net.DialTimeout("tcp", admin, time.Second); err == nil {
		c.Close()
		t.Error("the admin port still accepts connections after the control plane stopped")
	}
}
