package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncoders: whatever a client puts in a path, user agent or authority,
// each encoder emits exactly one line, JSON stays valid and round-trips, and
// the query string never appears.
func FuzzEncoders(f *testing.F) {
	f.Add("/get?x=1", "curl/8", "httpbin.org")
	f.Add("/\n\"\\\u2028\xff", "a\r\nb", "\x00")
	f.Fuzz(func(t *testing.T, path, ua, authority string) {
		e := &Entry{Path: path, UserAgent: ua, Authority: authority, Method: "GET"}
		for _, out := range [][]byte{AppendJSON(nil, e), AppendText(nil, e)} {
			if bytes.Count(out, []byte("\n")) != 1 || out[len(out)-1] != '\n' {
				t.Fatalf("not exactly one line: %q", out)
			}
		}
		out := AppendJSON(nil, e)
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		if utf8.ValidString(ua) && ua != "" && m[FieldUserAgent] != ua {
			t.Fatalf("user agent %q came back as %q", ua, m[FieldUserAgent])
		}
		if p, _ := m[FieldPath].(string); strings.ContainsAny(p, "?#") {
			t.Fatalf("path kept its query: %q", p)
		}
	})
}
