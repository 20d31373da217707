package meshtest

import (
	"encoding/json"
	"strings"
	"testing"
)

// NoDuplicateLogKeys fails when a JSON log line in text has two fields of the same name (a log pipeline
// keeps one of them, which one depends on the tool). Lines that are not JSON objects are skipped.
func NoDuplicateLogKeys(t testing.TB, text string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		if k := DuplicateKey(l); k != "" {
			t.Errorf("field %q appears twice in %s", k, l)
		}
	}
}

// DuplicateKey returns a key that appears twice in one JSON object of line, at any depth, or "".
func DuplicateKey(line string) string {
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
