package ownlisteners

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func addrPort(t *testing.T, ln net.Listener) netip.AddrPort {
	t.Helper()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func wantRefused(t *testing.T, r *Registry, target netip.AddrPort, what string) {
	t.Helper()
	err := r.Check(target)
	var re *RefusedError
	if !errors.As(err, &re) || re.What != what {
		t.Fatalf("Check(%s) = %v, want refused as egret's own %s listener", target, err, what)
	}
	shown := netip.AddrPortFrom(target.Addr().Unmap(), target.Port())
	if want := fmt.Sprintf("refused: %s is egret's own %s listener", shown, what); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}

func TestOwnListenersAreRefused(t *testing.T) {
	r := New(t.TempDir())
	admin := addrPort(t, r.Track(listen(t, "127.0.0.1:0"), "gateway admin"))
	wild := r.Track(listen(t, "0.0.0.0:0"), "control plane")
	wildAP := addrPort(t, wild)
	other := addrPort(t, listen(t, "127.0.0.1:0")) // a stand-in, not egret's

	t.Run("the exact address of a listener", func(t *testing.T) { wantRefused(t, r, admin, "gateway admin") })
	t.Run("an IPv4-mapped form of it", func(t *testing.T) {
		wantRefused(t, r, netip.AddrPortFrom(netip.AddrFrom16(admin.Addr().As16()), admin.Port()), "gateway admin")
	})
	t.Run("the unspecified address on a listener's port", func(t *testing.T) {
		wantRefused(t, r, netip.AddrPortFrom(netip.IPv4Unspecified(), admin.Port()), "gateway admin")
	})
	t.Run("a wildcard bind covers loopback on its port", func(t *testing.T) {
		wantRefused(t, r, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), wildAP.Port()), "control plane")
		wantRefused(t, r, netip.AddrPortFrom(netip.MustParseAddr("127.9.9.9"), wildAP.Port()), "control plane")
	})
	t.Run("a listener that is not egret's is dialled", func(t *testing.T) {
		if err := r.Check(other); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("another port of the same address is dialled", func(t *testing.T) {
		if err := r.Check(netip.AddrPortFrom(admin.Addr(), other.Port())); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a closed listener is forgotten, and the file goes with the last one", func(t *testing.T) {
		wild.Close()
		if err := r.Check(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), wildAP.Port())); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(r.file()); err != nil {
			t.Fatalf("file gone with a listener still tracked: %v", err)
		}
		r.Close()
		if _, err := os.Stat(r.file()); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("file still there after Close: %v", err)
		}
	})
}

// When the directory cannot be written, the process still refuses its own listeners.
func TestOwnListenersAreRefusedWithoutAWritableRegistry(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := New(filepath.Join(blocker, "listeners"))
	ap := addrPort(t, r.Track(listen(t, "127.0.0.1:0"), "gateway"))
	if r.PublishError() == nil {
		t.Fatal("publishing under a regular file succeeded?")
	}
	wantRefused(t, r, ap, "gateway")
}

// A file left by a process that is gone is ignored and removed.
func TestEntriesOfDeadProcessesAreIgnored(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	stale := addrPort(t, listen(t, "127.0.0.1:0")) // now someone else's port
	f := filepath.Join(dir, fmt.Sprintf("%d.json", dead))
	if err := os.WriteFile(f, []byte(fmt.Sprintf(`[{"addr":%q,"what":"control plane"}]`, stale)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := New(dir)
	if err := r.Check(stale); err != nil {
		t.Fatalf("a dead process's entry was enforced: %v", err)
	}
	if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead process's file was not removed: %v", err)
	}
}

// Another egret process's listeners are refused while it lives, and forgotten when it exits, whether it
// cleans up (its listener closed) or is killed.
func TestAnotherProcessListenersAreRefusedWhileItLives(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := map[bool]string{false: "exits cleanly", true: "is killed"}[kill]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(), "OWNLISTENERS_HELPER="+dir)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			ap := netip.MustParseAddrPort(strings.TrimSpace(line))
			r := New(dir)
			err = r.Check(ap)
			var re *RefusedError
			if !errors.As(err, &re) || re.PID != cmd.Process.Pid || re.What != "control plane admin" {
				t.Fatalf("Check(%s) = %v, want refused as process %d's control plane admin", ap, err, cmd.Process.Pid)
			}
			if kill {
				cmd.Process.Kill()
			} else {
				stdin.Close()
			}
			cmd.Wait()
			r.readAt = r.readAt.Add(-refresh) // do not wait for the caches to expire
			r.view.Store(nil)
			if err := r.Check(ap); err != nil {
				t.Fatalf("after the process ended: %v", err)
			}
			if names, _ := os.ReadDir(dir); len(names) != 0 {
				t.Errorf("files left: %v", names)
			}
		})
	}
}

// TestHelperProcess is the other egret process of the test above: it tracks a listener, prints its
// address and closes it when its stdin closes.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("OWNLISTENERS_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	r := New(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = r.Track(ln, "control plane admin")
	fmt.Println(ln.Addr())
	buf := make([]byte, 1)
	os.Stdin.Read(buf)
	ln.Close()
}

// A dial that is not to an egret listener reads the registry's view without a system call (os.Stat
// would allocate) or an allocation; a listener this process tracks is refused at once, and one another
// live process publishes is refused once the view is older than recheck.
func TestCheckReadsItsViewWithoutSystemCalls(t *testing.T) {
	dir := t.TempDir()
	r := New(dir)
	other := addrPort(t, listen(t, "127.0.0.1:0"))
	if err := r.Check(other); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = r.Check(other) }); n != 0 {
		t.Errorf("Check made %.0f allocations per call on the common path, want 0", n)
	}

	mine := listen(t, "127.0.0.1:0")
	tracked := r.Track(mine, "gateway admin")
	defer tracked.Close()
	wantRefused(t, r, addrPort(t, mine), "gateway admin")

	// Another live process (the parent of this test, which is certainly alive) publishes a listener.
	f := filepath.Join(dir, fmt.Sprintf("%d.json", os.Getppid()))
	if err := os.WriteFile(f, []byte(fmt.Sprintf(`[{"addr":%q,"what":"control plane"}]`, other)), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(recheck + 10*time.Millisecond)
	if err := r.Check(other); err == nil {
		t.Errorf("Check(%s) allowed a listener another egret process published %v ago", other, recheck)
	}
}
