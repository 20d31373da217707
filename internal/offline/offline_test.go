package offline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/source/file"
)

const example = "../../examples/bookinfo-egress"

// brokenExample is a copy of the example whose ExternalService names a port out of range.
func brokenExample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(example, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("portMatch: 80"), []byte("portMatch: 0x1ffff"))
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestThePipelineOnFiles(t *testing.T) {
	const problem = "03-external-service.yaml:18: ExternalService bookinfo/google: spec.ports[0].egressGatewayRoutes.portMatch: must be 1-65535"
	tests := []struct {
		name, dir string
		valid     bool
		report    string
	}{
		{name: "the example is valid", dir: example, valid: true, report: "7 objects valid\n"},
		{name: "a broken port is reported with its file, line and field", dir: brokenExample(t), report: problem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, loadErr := file.Load([]string{tt.dir}, file.Options{})
			var out bytes.Buffer
			ok, err := Validate(&out, snap, loadErr)
			if err != nil || ok != tt.valid || !strings.Contains(out.String(), tt.report) {
				t.Errorf("Validate: ok %v, err %v, report:\n%s\nwant it to contain %q", ok, err, out.String(), tt.report)
			}
			snap, loadErr = file.Load([]string{tt.dir}, file.Options{})
			var errw bytes.Buffer
			plan, err := Plan(&errw, snap, loadErr)
			if tt.valid != (err == nil && plan != nil && len(plan.Routes) > 0) {
				t.Errorf("Plan: %v (plan %v), problems:\n%s", err, plan != nil, errw.String())
			}
			if !tt.valid && !strings.Contains(errw.String(), problem) {
				t.Errorf("Plan did not report the problem:\n%s", errw.String())
			}
			res, err := Strict(snap, loadErr)
			if tt.valid != (err == nil && res != nil) {
				t.Errorf("Strict: %v", err)
			}
		})
	}
}

func TestALoadFailureIsReturnedAsItIs(t *testing.T) {
	_, loadErr := file.Load([]string{filepath.Join(t.TempDir(), "missing")}, file.Options{})
	if loadErr == nil {
		t.Fatal("loading a missing path did not fail")
	}
	if _, err := Plan(&bytes.Buffer{}, nil, loadErr); err != loadErr {
		t.Errorf("Plan: %v, want the load error %v", err, loadErr)
	}
	if _, err := Strict(nil, loadErr); err != loadErr {
		t.Errorf("Strict: %v, want the load error", err)
	}
	if _, err := Validate(&bytes.Buffer{}, nil, loadErr); err != loadErr {
		t.Errorf("Validate: %v, want the load error", err)
	}
}
