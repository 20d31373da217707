package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/meshtest"
)

// bgUp runs `egret up args...` in process until the test ends; out and errw collect its output.
type bgUp struct {
	out, errw meshtest.LockedBuffer
	cancel    context.CancelFunc
	done      chan int
}

func startUpCmd(t *testing.T, args ...string) *bgUp {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bgUp{cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- Run(ctx, append([]string{"up"}, args...), strings.NewReader(""), &b.out, &b.errw) }()
	t.Cleanup(func() { b.stop(t) })
	return b
}

func (b *bgUp) stop(t *testing.T) int {
	if b.cancel == nil {
		return -1
	}
	b.cancel()
	b.cancel = nil
	select {
	case code := <-b.done:
		return code
	case <-time.After(30 * time.Second):
		t.Errorf("egret up did not stop within 30s")
		return -1
	}
}

// bannerLine waits for up's banner and returns its line starting with prefix.
func (b *bgUp) bannerLine(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(b.out.String(), "\n") {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		select {
		case code := <-b.done:
			t.Fatalf("egret up exited %d before printing %q:\n%s\n%s", code, prefix, b.out.String(), b.errw.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %q line in up's banner:\n%s\n%s", prefix, b.out.String(), b.errw.String())
	return ""
}

func proxyGet(proxy, target string) (int, string, error) {
	pu, _ := url.Parse("http://" + proxy)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	resp, err := c.Get(target)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// The README's example, as written: `egret up -f examples/bookinfo-egress --standin`, then curl through
// productpage's sidecar. Before --standin, the gateway dialled the real www.google.com and the first
// request failed on a machine without internet.
func TestUpStandinAnswersTheREADMEExample(t *testing.T) {
	nets := meshtest.FreeUpNets(t)
	u := startUpCmd(t, append([]string{"-f", example, "--standin", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, nets.Args()...)...)
	line := u.bannerLine(t, "stand-ins")
	if !strings.Contains(line, "www.google.com:443") {
		t.Errorf("the stand-ins line does not name www.google.com:443: %q", line)
	}
	_, rest, _ := strings.Cut(line, "CA ")
	caFile, _, _ := strings.Cut(rest, " ")
	if _, err := os.Stat(caFile); err != nil {
		t.Fatalf("the stand-in CA file %q: %v", caFile, err)
	}
	u.bannerLine(t, "try:  curl -x http://"+nets.SidecarAddr(1)+" http://www.google.com/")

	tests := []struct {
		name, proxy string
		code        int
		body        string
	}{
		{"productpage gets the stand-in through the gateway", nets.SidecarAddr(1), 200, "egret stand-in for www.google.com: GET https://www.google.com/"},
		{"reviews is still denied by the AccessPolicy", nets.SidecarAddr(2), 403, "RBAC: access denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, err := proxyGet(tc.proxy, "http://www.google.com/")
			if err != nil || code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("got %d %q %v, want %d %q; logs:\n%s", code, body, err, tc.code, tc.body, u.errw.String())
			}
		})
	}
	if code := u.stop(t); code != ExitOK {
		t.Errorf("up exited %d", code)
	}
	if _, err := os.Stat(filepath.Dir(caFile)); !os.IsNotExist(err) {
		t.Errorf("the stand-in's temporary folder %s is still there after up exited: %v", filepath.Dir(caFile), err)
	}
}

// A port up needs is taken: up fails, names the address, and prints no banner (before, it printed
// the banner, then failed on its own).
func TestUpFailsNamingATakenPort(t *testing.T) {
	nets := meshtest.FreeUpNets(t)
	sidecar := nets.SidecarAddr(1)
	cpAddr := freeTaken(t)
	tests := []struct {
		name  string
		args  []string
		taken string
	}{
		{"a sidecar's address", []string{"--listen", "127.0.0.1:0"}, sidecar},
		{"the control plane's address", []string{"--listen", cpAddr}, cpAddr},
	}
	ln, err := net.Listen("tcp", sidecar)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"up", "-f", example, "--data-dir", t.TempDir(), "--admin", "127.0.0.1:0"}, tc.args...)
			// up's proxies log from goroutines of their own: collect with locked buffers.
			var outB, errB meshtest.LockedBuffer
			code := Run(context.Background(), append(args, nets.Args()...), strings.NewReader(""), &outB, &errB)
			out, errw := outB.String(), errB.String()
			if code != ExitError || !strings.Contains(errw, tc.taken) || !strings.Contains(errw, "address already in use") {
				t.Errorf("exit %d, stderr does not name %s as in use:\n%s", code, tc.taken, errw)
			}
			if strings.Contains(out, "control plane") || strings.Contains(out, "try:") {
				t.Errorf("up printed its banner though it could not listen:\n%s", out)
			}
		})
	}
}

// freeTaken returns an address that something else is listening on for the rest of the test.
func freeTaken(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// Before, `egret token create` and `egret ca bundle` created a new CA in a directory no control plane
// used, and the token was useless. Now they refuse, say how to point at one, and create nothing.
func TestTokenAndCARefuseToCreateACA(t *testing.T) {
	const id = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"
	for _, args := range [][]string{
		{"token", "create", "--identity", id},
		{"ca", "bundle"},
		{"ca", "issue", "--identity", id, "--out", "certs"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			code, out, errw := run(t, "", append(args, "--data-dir", dir)...)
			if code != ExitError || !strings.Contains(errw, "no CA in "+dir) || !strings.Contains(errw, "--data-dir") || !strings.Contains(errw, "egret up") {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errw)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s was created: %v", dir, err)
			}
		})
	}
	t.Run("the default data dir is shared, and a token from it is the running up's", func(t *testing.T) {
		data := t.TempDir()
		t.Setenv(ca.DataDirEnv, data)
		nets := meshtest.FreeUpNets(t)
		u := startUpCmd(t, append([]string{"-f", example, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, nets.Args()...)...)
		if line := u.bannerLine(t, "control plane"); !strings.Contains(line, "data "+data) {
			t.Errorf("up's banner does not say where its CA lives (%s): %q", data, line)
		}
		code, tok, errw := run(t, "", "token", "create", "--identity", id)
		if code != ExitOK || strings.TrimSpace(tok) == "" {
			t.Fatalf("token create beside a running up: exit %d, %q", code, errw)
		}
		code, bundle, _ := run(t, "", "ca", "bundle")
		root, err := os.ReadFile(filepath.Join(data, "root.crt"))
		if code != ExitOK || err != nil || !bytes.Equal(bytes.TrimSpace([]byte(bundle)), bytes.TrimSpace(root)) {
			t.Errorf("ca bundle is not the running up's root: exit %d, %v", code, err)
		}
	})
}

// -o is the output format everywhere; a file name given to -o (what render took before, and what
// scripts such as the benchmark harness still pass) is written, with a line that points at --out;
// any other value that is not a format is a usage error with the same hint.
func TestOutputFlagMeansTheSameEverywhere(t *testing.T) {
	dir := t.TempDir()
	gwFile := filepath.Join(dir, "gw.json")
	const gw = "cluster1/gloo-mesh-gateways/istio-egressgateway"
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"render -o FILE.json still writes it, pointing at --out", []string{"render", "gateway-config", "-f", example, "--gateway", gw, "-o", gwFile}, ExitOK, "use --out " + gwFile},
		{"render -o PATH without an extension is refused with a hint", []string{"render", "gateway-config", "-f", example, "--gateway", gw, "-o", filepath.Join(dir, "gw")}, ExitUsage, "to write a file use --out " + filepath.Join(dir, "gw")},
		{"render --out FILE writes it", []string{"render", "gateway-config", "-f", example, "--gateway", gw, "--out", gwFile}, ExitOK, ""},
		{"render -o yaml prints YAML", []string{"render", "gateway-config", "-f", example, "--gateway", gw, "-o", "yaml"}, ExitOK, "gateway:\n"},
		{"check -o yaml", []string{"check", "-f", example, "--from-workload", "bookinfo/productpage", "--to", "http://www.google.com/", "-o", "yaml"}, ExitOK, "allow: true"},
		{"check -o table (text kept as its old name)", []string{"check", "-f", example, "--from-workload", "bookinfo/productpage", "--to", "http://www.google.com/", "-o", "text"}, ExitOK, "decision: ALLOW"},
		{"get -o with a bad format", []string{"get", "routes", "-f", example, "-o", "xml"}, ExitUsage, `-o "xml": want table, yaml or json`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errw := run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(out+errw, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out, errw)
			}
		})
	}
	if b, err := os.ReadFile(gwFile); err != nil || !bytes.HasPrefix(b, []byte("{")) {
		t.Errorf("--out did not write the JSON config: %v", err)
	}
}

func TestRenamedFlagsKeepTheirOldNames(t *testing.T) {
	code, _, errw := run(t, "", "get", "routes", "-f", example, "--control-plane-admin", "127.0.0.1:1")
	if code != ExitUsage || !strings.Contains(errw, "not both") { // the old name still sets --admin
		t.Errorf("get --control-plane-admin: exit %d, %s", code, errw)
	}
	help := func(args ...string) string {
		_, out, _ := run(t, "", append(args, "--help")...)
		return out
	}
	if h := help("controlplane"); !strings.Contains(h, "-f, --filename") || strings.Contains(h, "--config-dir") {
		t.Errorf("controlplane --help shows the old name or lacks -f:\n%s", h)
	}
	for _, cmd := range [][]string{{"up"}, {"controlplane"}, {"status"}, {"get", "routes"}} {
		if h := help(cmd...); !strings.Contains(h, "--admin") {
			t.Errorf("%v has no --admin:\n%s", cmd, h)
		}
	}
}

func TestVersionMatchesTheVersionFlag(t *testing.T) {
	_, a, _ := run(t, "", "version")
	_, b, _ := run(t, "", "--version")
	if a != b || !strings.HasPrefix(a, "egret ") || strings.Contains(a, "{{") {
		t.Errorf("egret version %q and egret --version %q differ", a, b)
	}
}
