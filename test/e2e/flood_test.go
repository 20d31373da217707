package e2e

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
)

// The attack: under `egret up` (one process, one open-file limit), a workload opens thousands of
// connections to its own sidecar. Before each proxy's listeners were bounded, the sidecar accepted until
// the process ran out of file descriptors, and then nobody's sidecar or gateway could accept or dial:
// the neighbour's requests failed. Now the flooding sidecar holds at most its share (an eighth of the
// limit), the rest wait in the kernel's backlog, and the neighbour keeps getting through its own
// sidecar and the shared gateway.
func TestOneWorkloadFloodingItsSidecarDoesNotStarveItsNeighbour(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 connections")
	}
	const nofile, flood = 1024, 2000
	ext := google(t)
	dir := meshtest.CopyExample(t, nil)
	nets := meshtest.FreeUpNets(t)
	admin := freeAddr(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{"up", "-f", dir, "--listen", freeAddr(t), "--admin", admin, "--data-dir", t.TempDir(),
		"--resolve", "www.google.com:443=" + ext.Addr(), "--upstream-ca", ext.CAFile}, nets.Args()...)...)
	cmd.Env = append(os.Environ(), cliEnv+"=1", nofileEnv+"=1024")
	var out, errw buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
	})
	logs := func() string { return out.String() + errw.String() }
	productpage, reviews := nets.SidecarAddr(1), nets.SidecarAddr(2)
	eventually(t, productpage, "http://www.google.com/", 200, logs)

	// reviews floods its own sidecar: connections that send half a request and hold on.
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	var wg sync.WaitGroup
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < flood/20; i++ {
				c, err := net.DialTimeout("tcp", reviews, 5*time.Second)
				if err != nil {
					continue // the backlog is full: the flood is bounded by the kernel, not by egret's descriptors
				}
				c.Write([]byte("GET http://www.google.com/ HTTP/1.1\r\nHost: www.google.com\r\n"))
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	opened := len(conns)
	mu.Unlock()
	if opened < nofile {
		t.Fatalf("only %d of %d flood connections opened: the attack did not reach the file limit", opened, flood)
	}

	// The neighbour keeps getting through its own sidecar and the shared gateway.
	c := viaProxy(productpage)
	for i := 0; i < 20; i++ {
		code, body, err := get(c, "http://www.google.com/")
		if err != nil || code != 200 || !strings.Contains(body, "hello from www.google.com") {
			t.Fatalf("productpage's request %d with reviews flooding its sidecar (%d connections): %d %q %v; logs:\n%s", i+1, opened, code, body, err, tail(logs()))
		}
		c.CloseIdleConnections() // a new connection each time: accepting must still work
	}
	waitUntil(t, "the flooded sidecar logs that it reached its connection limit", 10*time.Second, func() bool {
		return strings.Contains(errw.String(), "connection limit reached")
	}, logs)
}
