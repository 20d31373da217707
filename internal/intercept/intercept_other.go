//go:build !linux

package intercept

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
)

var errNotLinux = fmt.Errorf("%w: transparent mode needs Linux (nftables and SO_ORIGINAL_DST); this is %s; use explicit mode (HTTP_PROXY) instead", ErrUnsupported, runtime.GOOS)

// Rules stands for an installed table; on this platform none can exist.
type Rules struct{}

// Install always fails here: transparent mode needs Linux.
func Install(Params) (*Rules, error) { return nil, errNotLinux }

// Remove has nothing to remove here.
func (*Rules) Remove() error { return nil }

// OriginalDst always fails here: transparent mode needs Linux.
func OriginalDst(net.Conn) (netip.AddrPort, error) { return netip.AddrPort{}, errNotLinux }

// BypassDialer returns a plain dialer: without Linux there are no rules to bypass.
func BypassDialer(int) *net.Dialer { return &net.Dialer{} }

// Supported explains that transparent mode needs Linux.
func Supported() error { return errNotLinux }
