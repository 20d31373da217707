// Package e2e runs the whole system in process (control plane, gateways, sidecars, via the egret
// command) against a local stand-in for www.google.com, one scenario per file.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"egret.dev/egret/internal/cli"
	"egret.dev/egret/internal/controlplane"
	"egret.dev/egret/internal/meshtest"
)

const (
	example   = "../../examples/bookinfo-egress"
	policy    = "04-access-policy.yaml"
	gw1       = "cluster1/gloo-mesh-gateways/istio-egressgateway"
	gw2       = "cluster2/gloo-mesh-gateways/istio-egressgateway"
	allowOne  = "      - serviceAccountSelector:\n          name: bookinfo-productpage\n"
	allowBoth = allowOne + "      - serviceAccountSelector:\n          name: bookinfo-reviews\n"
)

// buffer collects a component's output from concurrent writers.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is one in-process egret command.
type proc struct {
	out, err buffer
	cancel   context.CancelFunc
	done     chan int
	nets     meshtest.UpNets // for an up started by up(): where its gateways and sidecars listen
}

// start runs `egret args...` until stop.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{cancel: cancel, done: make(chan int, 1)}
	go func() { p.done <- cli.Run(ctx, args, strings.NewReader(""), &p.out, &p.err) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop cancels the command (Ctrl-C) and waits for it; a non-zero exit fails the test.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case code := <-p.done:
		if code != cli.ExitOK {
			t.Errorf("exit %d; stderr:\n%s", code, tail(p.err.String()))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("did not stop within 30s; stderr:\n%s", tail(p.err.String()))
	}
}

func tail(s string) string {
	if len(s) > 6000 {
		return "..." + s[len(s)-6000:]
	}
	return s
}

// egret runs a short command and returns its standard output.
func egret(t *testing.T, args ...string) string {
	t.Helper()
	var out, errw bytes.Buffer
	if code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errw); code != cli.ExitOK {
		t.Fatalf("egret %v: exit %d: %s", args, code, errw.String())
	}
	return out.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// google is the stand-in for www.google.com.
func google(t *testing.T) *meshtest.External {
	return meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.Host)
	})
}

// viaProxy is an unmodified HTTP client whose proxy is a sidecar.
func viaProxy(proxy string) *http.Client {
	u, _ := url.Parse("http://" + proxy)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
}

// get calls url once and returns the status and body, or an error.
func get(c *http.Client, target string) (int, string, error) {
	resp, err := c.Get(target)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// eventually calls target through proxy until it answers want (the system is starting or converging).
func eventually(t *testing.T, proxy, target string, want int, logs func() string) time.Duration {
	t.Helper()
	c := viaProxy(proxy)
	begin := time.Now()
	deadline := begin.Add(20 * time.Second)
	for {
		code, body, err := get(c, target)
		if err == nil && code == want {
			return time.Since(begin)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s via %s: %d %q %v, want %d; logs:\n%s", target, proxy, code, body, err, want, tail(logs()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load calls target through proxy in a loop until stopped, counting answers and failures (anything
// but 200 with the stand-in's body).
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	stopc      chan struct{}
	done       chan struct{}
}

func startLoad(proxy, target string) *load {
	l := &load{stopc: make(chan struct{}), done: make(chan struct{})}
	c := viaProxy(proxy)
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stopc:
				return
			default:
			}
			code, body, err := get(c, target)
			if err != nil || code != 200 || body != "hello from www.google.com" {
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.failures) < 10 {
					l.failures = append(l.failures, fmt.Sprintf("%s: %d %q %v", time.Now().Format("15:04:05.000"), code, body, err))
				}
				l.mu.Unlock()
				continue
			}
			l.ok.Add(1)
		}
	}()
	return l
}

// stop ends the loop and fails the test on any failed request.
func (l *load) stop(t *testing.T) {
	t.Helper()
	close(l.stopc)
	<-l.done
	t.Logf("load: %d requests answered, %d failed", l.ok.Load(), l.failed.Load())
	if l.failed.Load() > 0 {
		t.Errorf("%d requests failed, first ones: %v", l.failed.Load(), l.failures)
	}
	if l.ok.Load() == 0 {
		t.Errorf("no request was answered")
	}
}

// status asks the control plane's admin port, as `egret status -o json` does.
func status(t *testing.T, admin string) controlplane.Status {
	t.Helper()
	var st controlplane.Status
	if err := json.Unmarshal([]byte(egret(t, "status", "--admin", admin, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// allSynced waits until n proxies are connected and SYNCED.
func allSynced(t *testing.T, admin string, n int) controlplane.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := controlplane.Status{}
		if got := statusOrNil(admin); got != nil {
			st = *got // else the control plane is still starting
		}
		synced := 0
		for _, p := range st.Proxies {
			if p.Connected && p.State() == "SYNCED" {
				synced++
			}
		}
		if synced == n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d proxies SYNCED: %+v", synced, n, st.Proxies)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// acked is the version a connected proxy named name acknowledged.
func acked(st controlplane.Status, name string) string {
	for _, p := range st.Proxies {
		if p.Name == name && p.Connected {
			return p.Acked
		}
	}
	return ""
}

// up runs `egret up` on dir with the stand-in for www.google.com; it returns the process and the
// control plane's admin address. Gateways and sidecars get loopback nets of their own (p.nets), so the
// tests collide neither with each other nor with an `egret up` a developer is running.
func up(t *testing.T, dir string, ext *meshtest.External) (*proc, string) {
	t.Helper()
	listen, admin := freeAddr(t), freeAddr(t)
	nets := meshtest.FreeUpNets(t)
	p := start(t, append([]string{"up", "-f", dir, "--listen", listen, "--admin", admin, "--data-dir", t.TempDir(),
		"--resolve", "www.google.com:443=" + ext.Addr(), "--upstream-ca", ext.CAFile}, nets.Args()...)...)
	p.nets = nets
	return p, admin
}

// statusOrNil is the control plane's status, or nil when its admin port does not answer.
func statusOrNil(admin string) *controlplane.Status {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + admin + "/status")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st controlplane.Status
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return nil
	}
	return &st
}

func sleep() { time.Sleep(20 * time.Millisecond) }
