//go:build !linux

package netnstest

import "testing"

// RequireRoot skips: network namespaces exist only on Linux.
func RequireRoot(t testing.TB) {
	t.Helper()
	t.Skip("needs Linux network namespaces (root and CAP_NET_ADMIN); CI runs these as root on Linux")
}
