package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestErrorsGetTheirExitCodeAtTheBoundary: options a package refuses as not going together exit 2 like
// a bad flag does; a failure while working exits 1; each error is printed once, prefixed egret:.
func TestErrorsGetTheirExitCodeAtTheBoundary(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"a flag cobra cannot parse", []string{"gateway", "--drain-timeout", "soon"}, ExitUsage, `invalid argument "soon"`},
		{"a proxy's options that do not go together", []string{"sidecar", "--netns", "/nonexistent"}, ExitUsage, "--netns needs --transparent"},
		{"loadgen's options that do not go together", []string{"loadgen", "--url", "http://127.0.0.1:1/", "--cert", "c.pem"}, ExitUsage, "--cert and --key go together"},
		{"a file that is not there", []string{"gateway", "--config", "/nonexistent/gw.json", "--cert", "/nonexistent/a", "--key", "/nonexistent/b", "--bundle", "/nonexistent/c"}, ExitError, "/nonexistent/"},
		{"a control plane that would never load a change", []string{"controlplane", "-f", "/nonexistent", "--debounce", "0s"}, ExitUsage, "--debounce 0s: both must be positive"},
		{"a CA that is not there", []string{"ca", "bundle", "--data-dir", "/nonexistent/egret"}, ExitError, "no CA in /nonexistent/egret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			code := Run(context.Background(), c.args, strings.NewReader(""), &out, &errw)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, errw.String())
			}
			if got := errw.String(); !strings.HasPrefix(got, "egret: ") || !strings.Contains(got, c.wantErr) || strings.Count(got, "\n") != 1 {
				t.Fatalf("stderr %q, want one line egret: ... naming %q", got, c.wantErr)
			}
		})
	}
}
