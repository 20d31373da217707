package sidecar_test

import (
	"encoding/json"
	"strings"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// noDuplicateKeys fails when a JSON log line in any of bufs has two fields of the same name (a log
// pipeline keeps one of them, which one depends on the tool).
func noDuplicateKeys(t *testing.T, bufs ...*meshtest.LockedBuffer) {
	t.Helper()
	for _, b := range bufs {
		for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			if l == "" {
				continue
			}
			if k := duplicateKey(l); k != "" {
				t.Errorf("field %q appears twice in %s", k, l)
			}
		}
	}
}

// duplicateKey returns a key that appears twice in one JSON object, at any depth.
func duplicateKey(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	var walk func() string
	walk = func() string {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tok {
		case json.Delim('{'):
			keys := map[string]bool{}
			for dec.More() {
				kt, _ := dec.Token()
				k, _ := kt.(string)
				if keys[k] {
					return k
				}
				keys[k] = true
				if d := walk(); d != "" {
					return d
				}
			}
			dec.Token()
		case json.Delim('['):
			for dec.More() {
				if d := walk(); d != "" {
					return d
				}
			}
			dec.Token()
		}
		return ""
	}
	return walk()
}

func TestTheDuplicateKeyCheckFindsThem(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":{"b":1,"b":2}}`, "b"},
		{`{"component":"sidecar","msg":"x","component":"identity"}`, "component"},
	}
	for _, tc := range tests {
		if got := duplicateKey(tc.line); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.line, got, tc.want)
		}
	}
}
