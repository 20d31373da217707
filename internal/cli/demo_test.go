package cli

import (
	"os"
	"strings"
	"testing"

	"egret.dev/egret/internal/lockdown"
	"egret.dev/egret/internal/meshtest"
)

// TestDemoRunsTheSeedScenario runs `egret demo`, the README's first command, and checks that every
// step of the guide gave its expected answer.
func TestDemoRunsTheSeedScenario(t *testing.T) {
	code, out, errw := run(t, "", append([]string{"demo"}, meshtest.FreeUpNets(t).Args()...)...)
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errw)
	}
	for _, want := range []string{
		"✓ reviews → http://www.google.com/                           502",
		"✓ productpage → http://www.google.com/                       200",
		"✓ reviews → http://www.google.com/                           403 RBAC: access denied",
		"www.google.com:80 → cluster1/gloo-mesh-gateways/istio-egressgateway (listener 443→8443) → www.google.com:443 SIMPLE sni=www.google.com",
		"All steps gave the expected answers.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// Step 6 runs as root and says why it skips otherwise.
	lockdownLines := []string{"✓ ratings (no proxy settings) → http://www.google.com/       403 RBAC: access denied", "refused (connection refused)"}
	if err := lockdown.Supported(); err != nil {
		lockdownLines = []string{"6. network lockdown", "skipped: " + err.Error()}
	}
	for _, want := range lockdownLines {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// The work dir held the CA's root key: it is gone once the demo has returned.
	if _, rest, ok := strings.Cut(out, "work dir "); ok {
		work, _, _ := strings.Cut(rest, " ")
		if _, err := os.Stat(work); !os.IsNotExist(err) {
			t.Errorf("the demo's work dir %s (CA keys under data/) is still there after it returned: %v", work, err)
		}
	} else {
		t.Errorf("the demo did not print its work dir:\n%s", out)
	}
	if strings.Contains(out, "✗") {
		t.Errorf("a step failed:\n%s", out)
	}
}
