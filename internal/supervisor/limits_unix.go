//go:build unix

package supervisor

import "syscall"

// openFileLimit is the process's soft limit on open files (Go raises it to the hard limit at start).
func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<20 {
		return 1 << 20
	}
	return int(r.Cur)
}
