package lockdown

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// An owner file, stateDir/<namespace>, says which process runs the namespace: "pid starttime workload".
// The start time (field 22 of /proc/PID/stat) tells a live owner from a new process that reused its pid.

func writeOwner(nsName, workload string) error {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("lockdown: %w", err)
	}
	st, err := startTime(os.Getpid())
	if err != nil {
		return fmt.Errorf("lockdown: %w", err)
	}
	return os.WriteFile(filepath.Join(stateDir, nsName), []byte(fmt.Sprintf("%d %s %s\n", os.Getpid(), st, workload)), 0o644)
}

func removeOwner(nsName string) { os.Remove(filepath.Join(stateDir, nsName)) }

// owner returns the pid that runs nsName and whether that process is still alive.
func owner(nsName string) (pid int, alive bool) {
	b, err := os.ReadFile(filepath.Join(stateDir, nsName))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pid, err = strconv.Atoi(f[0])
	if err != nil {
		return 0, false
	}
	st, err := startTime(pid)
	return pid, err == nil && st == f[1]
}

// startTime is the process's start time in clock ticks since boot, as /proc/PID/stat reports it.
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b)[i+1:])
	const startField = 22 - 3 // fields after ")" start at field 3
	if len(f) <= startField {
		return "", errors.New("short /proc stat")
	}
	return f[startField], nil
}
