package sidecar_test

import (
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// noDuplicateKeys fails when a JSON log line in any of bufs has two fields of the same name.
func noDuplicateKeys(t *testing.T, bufs ...*meshtest.LockedBuffer) {
	t.Helper()
	for _, b := range bufs {
		meshtest.NoDuplicateLogKeys(t, b.String())
	}
}

func TestTheDuplicateKeyCheckFindsThem(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":{"b":1,"b":2}}`, "b"},
		{`{"component":"sidecar","msg":"x","component":"identity"}`, "component"},
	}
	for _, tc := range tests {
		if got := meshtest.DuplicateKey(tc.line); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.line, got, tc.want)
		}
	}
}
