package intercept

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// BypassDialer returns a dialer whose sockets carry SO_MARK=mark before connecting, so the nat rule's
// first line lets the sidecar's own upstream connections through instead of looping them back to it.
// Setting a mark needs CAP_NET_ADMIN, like installing the rules.
func BypassDialer(mark int) *net.Dialer {
	return &net.Dialer{
		Control: func(_, _ string, c syscall.RawConn) error {
			var sockErr error
			if err := c.Control(func(fd uintptr) {
				sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark)
			}); err != nil {
				return err
			}
			if sockErr != nil {
				return explain("set SO_MARK on the sidecar's upstream socket", sockErr)
			}
			return nil
		},
	}
}
