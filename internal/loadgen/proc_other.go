//go:build !linux

package loadgen

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// ProcessCPU needs Linux's /proc; elsewhere it reports that it is unsupported.
func ProcessCPU(pid int) (time.Duration, error) {
	return 0, fmt.Errorf("process CPU of %d: reading /proc is Linux-only, this is %s: %w", pid, runtime.GOOS, errors.ErrUnsupported)
}

// ProcessRSS needs Linux's /proc; elsewhere it reports that it is unsupported.
func ProcessRSS(pid int) (uint64, error) {
	return 0, fmt.Errorf("process memory of %d: reading /proc is Linux-only, this is %s: %w", pid, runtime.GOOS, errors.ErrUnsupported)
}
