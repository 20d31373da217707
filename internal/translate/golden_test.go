package translate

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/source/file"
)

var update = flag.Bool("update", false, "rewrite testdata/*.plan.yaml from the current output")

// golden is what a .plan.yaml file holds: the status of every input object, then the plan.
type golden struct {
	Load     []string       `yaml:"load,omitempty"`
	Statuses []goldenStatus `yaml:"statuses"`
	Plan     *ir.Plan       `yaml:"plan"`
}

type goldenStatus struct {
	Object   string   `yaml:"object"`
	State    State    `yaml:"state"`
	Problems []string `yaml:"problems,omitempty"`
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			got := render(t, in)
			want := filepath.Join("testdata", name+".plan.yaml")
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/translate -update)", err)
			}
			if !bytes.Equal(b, got) {
				t.Errorf("%s differs from the translation; run go test ./internal/translate -update and review the diff.\n--- got:\n%s", want, got)
			}
		})
	}
}

func render(t *testing.T, path string) []byte {
	t.Helper()
	snap, err := file.Load([]string{path}, file.Options{})
	var g golden
	if err != nil {
		var ps api.Problems
		if !errors.As(err, &ps) {
			t.Fatal(err)
		}
		for _, p := range ps {
			g.Load = append(g.Load, p.Error())
		}
	}
	res := Translate(snap)
	for _, s := range res.Statuses {
		gs := goldenStatus{Object: s.Object, State: s.State}
		for _, p := range s.Problems {
			gs.Problems = append(gs.Problems, p.Error())
		}
		g.Statuses = append(g.Statuses, gs)
	}
	g.Plan = res.Plan
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
