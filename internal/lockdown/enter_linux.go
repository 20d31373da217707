package lockdown

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread that has joined the namespace at path. Sockets made in fn stay in the
// namespace and may be used from any goroutine; a process started in fn is born in it. The thread
// rejoins its own namespace afterwards, or, if that fails, stays locked and dies with its goroutine,
// so no other goroutine ever runs in the wrong namespace.
func Do(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lockdown: open current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lockdown: open namespace: %w", err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lockdown: enter namespace %s: %w", path, err)
			return
		}
		err = fn()
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("lockdown: leave namespace %s: %w", path, rerr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// Listen opens a listener inside the namespace at path.
func Listen(path, network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := Do(path, func() (err error) {
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// Start starts cmd inside the namespace at path.
func Start(path string, cmd *exec.Cmd) error {
	return Do(path, cmd.Start)
}
