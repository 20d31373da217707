package translate

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"egret.dev/egret/internal/source/file"
)

// The control plane's source hands the same decoded objects to every translation until their file
// changes (file.Dir), so a translation must leave its snapshot exactly as it found it: one that sorted
// a host list in place or filled in a default would change what the next translation reads.
func TestTranslateLeavesTheSnapshotAlone(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(strings.TrimSuffix(filepath.Base(in), ".in.yaml"), func(t *testing.T) {
			snap, _ := file.Load([]string{in}, file.Options{})
			pristine, _ := file.Load([]string{in}, file.Options{})
			first := Translate(snap)
			if !reflect.DeepEqual(snap, pristine) {
				t.Fatal("the translation changed the snapshot it read")
			}
			if second := Translate(snap); !reflect.DeepEqual(first.Plan, second.Plan) {
				t.Error("translating the same snapshot twice gave two plans")
			}
		})
	}
}
