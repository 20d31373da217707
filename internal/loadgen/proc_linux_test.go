package loadgen

import (
	"crypto/sha256"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestProcessCPUGrowsWithBusyWork(t *testing.T) {
	pid := os.Getpid()
	before, err := ProcessCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel's 10 ms accounting shows the work; the deadline only guards against a
	// reader that never changes.
	sum := sha256.Sum256(nil)
	deadline := time.Now().Add(generous)
	after := before
	for after <= before && time.Now().Before(deadline) {
		for range 10000 {
			sum = sha256.Sum256(sum[:])
		}
		if after, err = ProcessCPU(pid); err != nil {
			t.Fatal(err)
		}
	}
	if after <= before {
		t.Fatalf("cpu time stayed at %v after busy work", before)
	}
	if after%(10*time.Millisecond) != 0 {
		t.Errorf("cpu time %v is not a whole number of clock ticks", after)
	}
}

func TestProcessRSSGrowsWhenMemoryIsTouched(t *testing.T) {
	pid := os.Getpid()
	before, err := ProcessRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	buf := make([]byte, size)
	for i := 0; i < size; i += os.Getpagesize() {
		buf[i] = 1
	}
	after, err := ProcessRSS(pid)
	runtime.KeepAlive(buf)
	if err != nil {
		t.Fatal(err)
	}
	if before == 0 || after < before+size/2 {
		t.Fatalf("rss %d before and %d after touching %d bytes", before, after, size)
	}
}

func TestProcessReadersRefuseBadPIDs(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		want string
	}{
		{"zero", 0, "must be positive"},
		{"negative", -5, "must be positive"},
		{"exited", exitedPID(t), "no process"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ProcessCPU(tc.pid); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ProcessCPU: error %v, want %q", err, tc.want)
			}
			if _, err := ProcessRSS(tc.pid); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ProcessRSS: error %v, want %q", err, tc.want)
			}
		})
	}
}
