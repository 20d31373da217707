package netnstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// seq makes namespace and link names unique within this process; the pid makes them unique across
// test binaries running side by side.
var seq atomic.Uint32

func uniqueName(prefix string) string {
	// Interface names are limited to 15 bytes, so keep these short.
	return fmt.Sprintf("%s%d%c%d", prefix, os.Getpid()%100000, 'n', seq.Add(1))
}

// NS is a network namespace created for one test.
type NS struct {
	name string
}

// New creates a namespace with a unique name and loopback up; the test's cleanup deletes it, and with
// it every link inside, even when the test fails.
func New(t testing.TB) *NS {
	t.Helper()
	n := &NS{name: uniqueName("egret")}
	if err := ip("netns", "add", n.name); err != nil {
		t.Fatalf("netnstest: create namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := ip("netns", "del", n.name); err != nil {
			t.Errorf("netnstest: delete namespace %s: %v", n.name, err)
		}
	})
	if err := ip("-n", n.name, "link", "set", "lo", "up"); err != nil {
		t.Fatalf("netnstest: bring up lo in %s: %v", n.name, err)
	}
	// Duplicate address detection would hold new IPv6 addresses (link-local ones included) tentative
	// for about two seconds and stall the first connection; these links are private to the test.
	if err := n.Do(func() error {
		for _, conf := range []string{"all", "default"} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+conf+"/accept_dad", []byte("0"), 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil && !errors.Is(err, os.ErrNotExist) { // no IPv6 in this kernel: nothing to wait for
		t.Fatalf("netnstest: turn off IPv6 DAD in %s: %v", n.name, err)
	}
	return n
}

// Name is the namespace's name as `ip netns` knows it.
func (n *NS) Name() string { return n.name }

// Path is the namespace's file, for APIs that take a path or an fd.
func (n *NS) Path() string { return "/var/run/netns/" + n.name }

// Do runs fn on an OS thread that has joined the namespace. Sockets created in fn stay in the
// namespace after it returns and may be used from any goroutine. The thread rejoins its original
// namespace afterwards; if that fails, the thread stays locked and dies with its goroutine, so no
// other goroutine ever runs in the wrong namespace.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netnstest: open current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(n.Path())
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netnstest: open namespace %s: %w", n.name, err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netnstest: enter namespace %s: %w", n.name, err)
			return
		}
		err = call(fn)
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("netnstest: leave namespace %s: %w", n.name, rerr))
			return // thread stays locked: the runtime discards it
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// call turns a panic in fn into an error, so Do's thread bookkeeping still runs.
func call(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("netnstest: panic inside namespace: %v", r)
		}
	}()
	return fn()
}

// Listen opens a listener inside the namespace.
func (n *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// Dial connects from inside the namespace with d (nil means a zero Dialer).
func (n *NS) Dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	var c net.Conn
	err := n.Do(func() (err error) {
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Start starts cmd inside the namespace. The child is forked from a thread that has joined the
// namespace and inherits it, so cmd.SysProcAttr (e.g. Credential, to run as another user) still applies,
// which `ip netns exec` would not allow.
func (n *NS) Start(cmd *exec.Cmd) error {
	return n.Do(cmd.Start)
}

// Run is Start followed by Wait.
func (n *NS) Run(cmd *exec.Cmd) error {
	if err := n.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// ip runs iproute2's ip and returns its stderr in the error.
func ip(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %v: %w: %s", args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
