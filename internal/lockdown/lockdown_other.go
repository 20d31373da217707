//go:build !linux

package lockdown

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
)

var errNotLinux = fmt.Errorf("the network lockdown needs Linux (network namespaces, nftables); this is %s", runtime.GOOS)

// Sandbox stands for a workload's namespace; on this platform none can exist.
type Sandbox struct {
	Workload, Name, Path, HostLink string
	HostAddr, NSAddr               netip.Prefix
}

// Supported explains that the lockdown needs Linux.
func Supported() error { return errNotLinux }

// Create always fails here.
func Create(string, string) (*Sandbox, error) { return nil, errNotLinux }

// Remove has nothing to remove here.
func (*Sandbox) Remove() error { return nil }

// RemoveStale has nothing to remove here.
func RemoveStale() ([]string, error) { return nil, nil }

// Lookup always fails here.
func Lookup(namespace, name string) (string, error) {
	return "", fmt.Errorf("%w for workload %s/%s: %v", ErrNoNamespace, namespace, name, errNotLinux)
}

// Do always fails here.
func Do(string, func() error) error { return errNotLinux }

// Listen always fails here.
func Listen(string, string, string) (net.Listener, error) { return nil, errNotLinux }

// Start always fails here.
func Start(string, *exec.Cmd) error { return errNotLinux }

// HostEnd always fails here.
func HostEnd(string) (netip.Addr, error) { return netip.Addr{}, errNotLinux }
