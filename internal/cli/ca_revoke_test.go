package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/ca"
)

func TestCARevoke(t *testing.T) {
	dir := t.TempDir()
	running, err := ca.New(ca.Params{DataDir: dir}) // the CA of a running control plane on that dir
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"an identity", []string{"--identity", "spiffe://cluster1/ns/bookinfo/sa/reviews"}, ExitOK, "revoked spiffe://cluster1/ns/bookinfo/sa/reviews (1 entries"},
		{"a certificate by serial", []string{"--serial", "0A:1B"}, ExitOK, "revoked serial 0A:1B (2 entries"},
		{"the same identity again", []string{"--identity", "spiffe://cluster1/ns/bookinfo/sa/reviews"}, ExitOK, "(2 entries"},
		{"neither", nil, ExitUsage, ""},
		{"both", []string{"--identity", "spiffe://cluster1/ns/a/sa/b", "--serial", "1"}, ExitUsage, ""},
		{"a malformed identity", []string{"--identity", "reviews"}, ExitUsage, ""},
		{"a serial that is not hex", []string{"--serial", "xyz"}, ExitUsage, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := runCLI(t, append([]string{"ca", "revoke", "--data-dir", dir}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
				t.Fatalf("exit %d, out %q, err %q; want exit %d and %q", code, out, errText, tc.wantCode, tc.wantOut)
			}
		})
	}
	list, err := running.Revocations()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].SPIFFEID != "spiffe://cluster1/ns/bookinfo/sa/reviews" || list[1].Serial != "a1b" {
		t.Fatalf("the running CA sees %+v", list)
	}
	fi, err := os.Stat(filepath.Join(dir, "revocations.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("revocations.json: %v %v, want mode 0600", fi.Mode(), err)
	}
}
