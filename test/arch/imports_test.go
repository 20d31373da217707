// Package arch enforces the layering rules of STYLE.md and DESIGN.md on the module's import graph.
package arch

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "egret.dev/egret/"

// rules: a package (or every package under a prefix ending in "/...") must not depend, directly or
// transitively, on any of the forbidden import paths (prefixes).
var rules = []struct {
	pkg       string
	forbidden []string
	why       string
}{
	{"internal/api", []string{module + "internal/translate", module + "internal/ir"}, "api is the wire format; the model and translation come after it"},
	{"internal/ir", []string{module + "internal/api", module + "internal/translate", module + "internal/source"}, "ir is the proxy-agnostic model; it must not know the wire format"},
	{"internal/render/...", []string{module + "internal/api", module + "internal/source"}, "renderers read the plan (ir), not the resources"},
	{"internal/proxyconfig", []string{module + "internal/api", module + "internal/source", module + "internal/translate"}, "a proxy's config is cut from the plan (ir)"},
	{"internal/gateway/...", dataPlaneForbidden, "the data plane reads only its proxy config"},
	{"internal/sidecar/...", dataPlaneForbidden, "the data plane reads only its proxy config"},
	{"internal/sniff", []string{module}, "shared proxy pieces stand alone"},
	{"internal/splice", []string{module}, "shared proxy pieces stand alone"},
	{"internal/accesslog", []string{module}, "shared proxy pieces stand alone"},
	{"internal/resolve", []string{module}, "shared proxy pieces stand alone"},
	{"internal/origination", []string{module}, "shared proxy pieces stand alone"},
	{"internal/failover", []string{module}, "shared proxy pieces stand alone"},
	{"internal/h2limit", []string{module}, "shared proxy pieces stand alone"},
	{"internal/h2cli", []string{module}, "shared proxy pieces stand alone"},
	{"internal/ownlisteners", []string{module}, "shared proxy pieces stand alone"},
	{"internal/connlimit", []string{module}, "shared proxy pieces stand alone"},
	{"internal/check", []string{module + "internal/api", module + "internal/source", module + "internal/translate"}, "check asks the plan (ir) the question the proxies ask"},
	{"internal/report", []string{module + "internal/cli"}, "the CLI calls the packages that do the work, never the reverse"},
	{"internal/offline", []string{module + "internal/cli"}, "the CLI calls the packages that do the work, never the reverse"},
	{"internal/demo", []string{module + "internal/cli"}, "the CLI calls the packages that do the work, never the reverse"},
	{"internal/adminclient", []string{module + "internal/cli"}, "the CLI calls the packages that do the work, never the reverse"},
	{"internal/loadgen", []string{module + "internal/cli", "k8s.io/", "istio.io/"}, "the load generator stands alone"},
	{"cmd/...", []string{"istio.io/istio/", module + "internal/kubetest"}, "istio.io/istio and the Kubernetes test harness are for tests only; egret's binary must not link them"},
}

var dataPlaneForbidden = []string{
	module + "internal/api", module + "internal/translate", module + "internal/source",
	module + "internal/render", module + "internal/controlplane", module + "internal/cli",
	"k8s.io/", "sigs.k8s.io/", "istio.io/",
}

func TestImportRules(t *testing.T) {
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			deps := goList(t, "-deps", "-f", "{{.ImportPath}}", "egret.dev/egret/"+r.pkg)
			if len(deps) == 0 {
				t.Skipf("%s does not exist yet", r.pkg)
			}
			self := strings.TrimSuffix(module+r.pkg, "/...")
			for _, d := range deps {
				if strings.HasPrefix(d, self) {
					continue
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(d, f) {
						t.Errorf("%s depends on %s: %s", r.pkg, d, r.why)
					}
				}
			}
		})
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		msg := string(out)
		if ee, ok := err.(*exec.ExitError); ok {
			msg += string(ee.Stderr)
		}
		if strings.Contains(msg, "matched no packages") || strings.Contains(msg, "no required module provides") || strings.Contains(msg, "no Go files") {
			return nil
		}
		t.Fatalf("go list %v: %v\n%s", args, err, msg)
	}
	return strings.Fields(string(out))
}

// The shared proxy pieces import only the standard library (and resolve its DNS client), so they stay
// small and reviewable and carry no egret package along.
var stdlibOnly = map[string][]string{
	"internal/sniff":       nil,
	"internal/splice":      nil,
	"internal/accesslog":   nil,
	"internal/origination": nil,
	"internal/failover":    nil,
	"internal/connlimit":   nil,
	"internal/httpfwd":     nil,
	"internal/version":     nil,
	"internal/resolve":     {"github.com/miekg/dns"},
	"internal/h2limit":     {"golang.org/x/net/http2", "golang.org/x/net/http2/hpack"},
	"internal/h2srv":       {"golang.org/x/net/http2", "golang.org/x/net/http2/hpack", "golang.org/x/net/http/httpguts", module + "internal/h2limit"},
}

func TestSharedProxyPiecesImportOnlyTheStandardLibrary(t *testing.T) {
	for pkg, allowed := range stdlibOnly {
		t.Run(pkg, func(t *testing.T) {
			imports := goList(t, "-f", "{{join .Imports \" \"}}", module+pkg)
			if len(imports) == 0 {
				t.Fatalf("%s imports nothing; is the package there?", pkg)
			}
			for _, imp := range imports {
				first, _, _ := strings.Cut(imp, "/")
				if strings.Contains(first, ".") && !slices.Contains(allowed, imp) {
					t.Errorf("%s imports %s: only the standard library is allowed here", pkg, imp)
				}
			}
		})
	}
}

// TestTheRuleCheckerCatchesAViolation makes sure the rules above can fail: the CLI does depend on api.
func TestTheRuleCheckerCatchesAViolation(t *testing.T) {
	deps := goList(t, "-deps", "-f", "{{.ImportPath}}", module+"internal/cli")
	if !slices.Contains(deps, module+"internal/api") {
		t.Fatal("go list did not report internal/cli's dependency on internal/api; the import rules would check nothing")
	}
}
