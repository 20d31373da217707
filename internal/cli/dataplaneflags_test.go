package cli

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// The access log flags on the real command: sampling keeps every denial, "off" writes nothing, and
// every line is out by the time the gateway exits (the batch is flushed after the drain).
func TestGatewayAccessLogFlags(t *testing.T) {
	dir, cfg := gatewayCommandFiles(t)
	upstream, caFile := standIn(t, "www.google.com")
	for _, tc := range []struct {
		name      string
		flags     []string
		wantLines int
	}{
		{"every request is logged by default", nil, 6},
		{"sampling one in 2 keeps 2 of the 4 allowed requests and both denials", []string{"--access-log-sample", "2"}, 4},
		{"unbuffered writes every line too", []string{"--access-log-buffer", "0"}, 6},
		{"off writes nothing", []string{"--access-log", "off"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listen, ready := freePort(t), freePort(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr meshtest.LockedBuffer
			done := make(chan int)
			go func() {
				done <- Run(ctx, append([]string{"gateway", "--config", cfg,
					"--cert", filepath.Join(dir, "gw", "svid.pem"), "--key", filepath.Join(dir, "gw", "key.pem"), "--bundle", filepath.Join(dir, "gw", "bundle.pem"),
					"--port", "8443=" + listen, "--admin", "", "--ready", "127.0.0.1:" + ready,
					"--resolve", "www.google.com:443=" + upstream, "--upstream-ca", caFile,
				}, tc.flags...), strings.NewReader(""), &stdout, &stderr)
			}()
			waitReady(t, "http://127.0.0.1:"+ready+"/healthz/ready", &stderr)
			for _, who := range []string{"pp", "pp", "rv", "pp", "rv", "pp"} {
				c := meshClient(t, filepath.Join(dir, who), "127.0.0.1:"+listen)
				resp, err := c.Get("https://www.google.com/")
				if err != nil {
					t.Fatalf("%s: %v", who, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			cancel()
			if code := <-done; code != ExitOK {
				t.Fatalf("gateway exited %d: %s", code, stderr.String())
			}
			out := strings.TrimSpace(stdout.String())
			n := 0
			if out != "" {
				n = len(strings.Split(out, "\n"))
			}
			if n != tc.wantLines || strings.Count(out, `"decision":"deny"`) != min(2, tc.wantLines) {
				t.Errorf("%d lines, want %d (every denial kept):\n%s", n, tc.wantLines, out)
			}
		})
	}
}
