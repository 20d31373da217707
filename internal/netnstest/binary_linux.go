package netnstest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBinaryForOthers copies the running test binary where an unprivileged user can run it (go test's
// build directory is private to root), for tests that re-run themselves under another uid. The copy is
// removed when the test ends.
func TestBinaryForOthers(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "egret-test-binary-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(self))
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}
