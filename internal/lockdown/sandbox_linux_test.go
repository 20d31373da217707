package lockdown

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"egret.dev/egret/internal/intercept"
	"egret.dev/egret/internal/netnstest"
)

// testWorkload gives each test its own workload name, so tests (and test binaries) running side by
// side never share a namespace.
func testWorkload(t *testing.T) (string, string) {
	return "locktest", fmt.Sprintf("%s-%d-%d", strings.ToLower(t.Name()[4:min(len(t.Name()), 20)]), os.Getpid(), time.Now().UnixNano()%100000)
}

func TestASandboxLetsNothingOutButLoopback(t *testing.T) {
	netnstest.RequireRoot(t)
	ns, name := testWorkload(t)
	s, err := Create(ns, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove() })

	// A listener on the host end of the veth: reachable from the host, so a refusal from inside the
	// namespace is the filter's doing, not a missing route.
	hostLn, err := net.Listen("tcp", net.JoinHostPort(s.HostAddr.Addr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			c, err := hostLn.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	if c, err := net.DialTimeout("tcp", hostLn.Addr().String(), 2*time.Second); err != nil {
		t.Fatalf("the host end is not reachable from the host: %v", err)
	} else {
		c.Close()
	}
	<-accepted

	inside, err := Listen(s.Path, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inside.Close()
	go func() {
		for {
			c, err := inside.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	for _, tc := range []struct {
		name   string
		dialer *net.Dialer
		addr   string
		ok     bool
	}{
		{"loopback inside the namespace is open", nil, inside.Addr().String(), true},
		{"a direct dial to the host end is refused", nil, hostLn.Addr().String(), false},
		{"a dial carrying the sidecar's bypass mark is refused too", intercept.BypassDialer(int(intercept.DefaultBypassMark)), hostLn.Addr().String(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.dialer
			if d == nil {
				d = &net.Dialer{}
			}
			var err error
			begin := time.Now()
			Do(s.Path, func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				var c net.Conn
				c, err = d.DialContext(ctx, "tcp", tc.addr)
				if err == nil {
					c.Close()
				}
				return nil
			})
			if tc.ok && err != nil {
				t.Fatalf("dial %s: %v", tc.addr, err)
			}
			if !tc.ok {
				if err == nil {
					t.Fatalf("dial %s from the namespace succeeded", tc.addr)
				}
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("dial %s: %v, want connection refused (a reject, not a timeout)", tc.addr, err)
				}
				if d := time.Since(begin); d > 2*time.Second {
					t.Errorf("refusal took %s", d)
				}
			}
		})
	}
	select {
	case <-accepted:
		t.Errorf("the host end accepted a connection from inside the namespace")
	default:
	}

	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if exists(s.Name) || linkExists(s.HostLink) {
		t.Errorf("after Remove: namespace present %v, host link present %v", exists(s.Name), linkExists(s.HostLink))
	}
	if err := s.Remove(); err != nil {
		t.Errorf("a second Remove: %v", err)
	}
}

func TestRemoveStaleRemovesWhatADeadOwnerLeftAndKeepsALiveOnes(t *testing.T) {
	netnstest.RequireRoot(t)
	ns, name := testWorkload(t)
	dead, err := Create(ns, name+"-dead")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Remove() })
	live, err := Create(ns, name+"-live")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Remove() })
	// The dead one's owner is a pid with another start time: a process that is gone.
	if err := os.WriteFile(filepath.Join(stateDir, dead.Name), []byte(fmt.Sprintf("%d 1 %s\n", os.Getpid(), dead.Workload)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup(ns, name+"-dead"); !errors.Is(err, ErrNoNamespace) || !strings.Contains(err.Error(), "left from an egret up that is gone") {
		t.Errorf("Lookup of a dead owner's namespace: %v", err)
	}
	// Only this test's namespaces: an egret up starting in another test binary may be cleaning too
	// (and may get to the dead one first, which is why the end state is what is checked).
	removed, err := removeStale(func(n string) bool { return n == dead.Name || n == live.Name })
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(removed, live.Name) {
		t.Errorf("removed %v; the live owner's %s must be kept", removed, live.Name)
	}
	if exists(dead.Name) || linkExists(dead.HostLink) {
		t.Errorf("the dead owner's namespace or link survived")
	}
	if p, err := Lookup(ns, name+"-live"); err != nil || p != live.Path {
		t.Errorf("Lookup of the live one: %q %v", p, err)
	}
	tables, err := TablesIn(live.Path)
	if err != nil || !slices.Contains(tables, FilterTable) {
		t.Errorf("tables in the live namespace: %v %v", tables, err)
	}
	// The same workload again while its owner lives: a clear error, not a takeover.
	if _, err := Create(ns, name+"-live"); err != nil {
		t.Errorf("the owner itself re-creating its namespace: %v", err)
	}
}

func TestLookupOfAWorkloadWithoutANamespace(t *testing.T) {
	_, err := Lookup("nowhere", "nothing")
	if !errors.Is(err, ErrNoNamespace) || !strings.Contains(err.Error(), "sidecar.mode: transparent") {
		t.Errorf("got %v", err)
	}
}
