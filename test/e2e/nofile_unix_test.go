//go:build unix

package e2e

import (
	"strconv"
	"syscall"
)

// lowerOpenFileLimit sets the soft limit on open files to n (Go raised it to the hard limit at start).
func lowerOpenFileLimit(n string) {
	v, err := strconv.ParseUint(n, 10, 64)
	if err != nil || v == 0 {
		return
	}
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && v < r.Cur {
		r.Cur = v
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}
