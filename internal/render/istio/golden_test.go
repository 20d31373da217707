package istio_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/render/istio"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

var update = flag.Bool("update", false, "rewrite testdata/*.istio.yaml from the current output")

// plan loads and translates one input file; any blocking problem fails the test.
func plan(t *testing.T, path string) *ir.Plan {
	t.Helper()
	snap, err := file.Load([]string{path}, file.Options{})
	var ps api.Problems
	if err != nil && !errors.As(err, &ps) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("%s does not decode: %v", path, err)
	}
	res := translate.Translate(snap)
	raw, _ := os.ReadFile(path)
	for _, p := range res.Problems() {
		// An input may mean a resource to be refused: it says so in a comment "# expect-invalid: Kind ns/name".
		if p.Severity == api.SeverityError && !strings.Contains(string(raw), "# expect-invalid: "+p.Object+"\n") {
			// A resource left out as invalid would make the test pass on less than it means to test
			// (an invalid AccessPolicy restricts nothing).
			t.Fatalf("%s: %s", path, p)
		}
	}
	return res.Plan
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			outs, err := istio.RenderAll(plan(t, in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := istio.YAML(outs...)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				for _, w := range o.Warnings {
					got = append(got, []byte("# warning: cluster "+o.Cluster+": "+w+"\n")...)
				}
			}
			want := filepath.Join("testdata", name+".istio.yaml")
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/render/istio -update)", err)
			}
			if !bytes.Equal(b, got) {
				t.Errorf("%s differs from the rendering; run go test ./internal/render/istio -update and review the diff", want)
			}
		})
	}
}
