package loadgen

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// ProcessCPU returns the user plus system CPU time process pid has used so far, read from
// /proc/PID/stat at a resolution of 10 ms.
func ProcessCPU(pid int) (time.Duration, error) {
	data, err := readProc(pid, "stat")
	if err != nil {
		return 0, err
	}
	d, err := parseStatCPU(data)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return d, nil
}

// ProcessRSS returns the resident set size of process pid in bytes, read from /proc/PID/statm.
func ProcessRSS(pid int) (uint64, error) {
	data, err := readProc(pid, "statm")
	if err != nil {
		return 0, err
	}
	n, err := parseStatmRSS(data, os.Getpagesize())
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/statm: %w", pid, err)
	}
	return n, nil
}

func readProc(pid int, file string) ([]byte, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("process id must be positive, got %d", pid)
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("no process %d (is it still running?)", pid)
	}
	return data, err
}
