package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of utime and stime in /proc/PID/stat. sysconf(_SC_CLK_TCK)
// has returned 100 on every Linux architecture since 2.6, and reading it needs cgo, so it is fixed here.
const clockTicks = 100

// parseStatCPU returns utime+stime from the contents of /proc/PID/stat.
func parseStatCPU(data []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may itself contain spaces and ')', so the
	// fields are counted from the last ')'.
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, errors.New("no ')' closing the command name")
	}
	fields := bytes.Fields(data[end+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("%d fields after the command name, want at least %d", len(fields), stime+1)
	}
	var ticks uint64
	for _, i := range []int{utime, stime} {
		v, err := strconv.ParseUint(string(fields[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %d: %w", i+3, err)
		}
		if v > maxTicks-ticks {
			return 0, fmt.Errorf("cpu time of more than %d ticks overflows", maxTicks)
		}
		ticks += v
	}
	return time.Duration(ticks) * (time.Second / clockTicks), nil
}

// maxTicks is the most clock ticks a time.Duration can hold.
const maxTicks = uint64(1<<63-1) / uint64(time.Second/clockTicks)

// parseStatmRSS returns the resident set size in bytes from the contents of /proc/PID/statm.
func parseStatmRSS(data []byte, pageSize int) (uint64, error) {
	fields := bytes.Fields(data)
	if len(fields) < 2 {
		return 0, fmt.Errorf("%d fields, want at least 2", len(fields))
	}
	pages, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("resident field: %w", err)
	}
	if pageSize <= 0 || pages > ^uint64(0)/uint64(pageSize) {
		return 0, fmt.Errorf("%d pages of %d bytes overflows", pages, pageSize)
	}
	return pages * uint64(pageSize), nil
}
