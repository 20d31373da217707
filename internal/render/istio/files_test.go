package istio_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"egret.dev/egret/internal/render/istio"
)

// TestWriteGoesToStdoutOneFileOrADirectory: --out of `egret render istio` names standard output, one
// file holding every cluster, or a directory (existing, or a path ending in /) with a file per cluster.
func TestWriteGoesToStdoutOneFileOrADirectory(t *testing.T) {
	outs, err := istio.RenderAll(plan(t, "testdata/seed.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := istio.Encode("yaml", outs...)
	if err != nil {
		t.Fatal(err)
	}
	var clusters []string
	for _, o := range outs {
		clusters = append(clusters, o.Cluster+".yaml")
	}
	slices.Sort(clusters)
	existing := t.TempDir()
	for _, c := range []struct {
		name, path string
		wantFiles  []string // in the directory path; nil: path is one file
		wantStdout bool
	}{
		{"- is standard output", "-", nil, true},
		{"an empty path is standard output", "", nil, true},
		{"a file holds every cluster", filepath.Join(t.TempDir(), "all.yaml"), nil, false},
		{"a path ending in / becomes a directory", filepath.Join(t.TempDir(), "new") + "/", clusters, false},
		{"an existing directory gets a file per cluster", existing, clusters, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout bytes.Buffer
			if err := istio.Write(c.path, "yaml", outs, &stdout); err != nil {
				t.Fatal(err)
			}
			switch {
			case c.wantStdout:
				if !bytes.Equal(stdout.Bytes(), all) {
					t.Fatalf("standard output has %d bytes, want the %d of Encode", stdout.Len(), len(all))
				}
			case c.wantFiles == nil:
				got, err := os.ReadFile(c.path)
				if err != nil || !bytes.Equal(got, all) {
					t.Fatalf("the file has %d bytes (%v), want the %d of Encode", len(got), err, len(all))
				}
			default:
				entries, err := os.ReadDir(c.path)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				slices.Sort(names)
				if !slices.Equal(names, c.wantFiles) {
					t.Fatalf("files %v, want %v", names, c.wantFiles)
				}
			}
			if !c.wantStdout && stdout.Len() != 0 {
				t.Errorf("%d bytes went to standard output too", stdout.Len())
			}
		})
	}
}
