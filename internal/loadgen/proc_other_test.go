//go:build !linux

package loadgen

import (
	"errors"
	"os"
	"testing"
)

func TestProcessReadersSayTheyAreUnsupported(t *testing.T) {
	if _, err := ProcessCPU(os.Getpid()); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ProcessCPU: error %v, want errors.ErrUnsupported", err)
	}
	if _, err := ProcessRSS(os.Getpid()); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ProcessRSS: error %v, want errors.ErrUnsupported", err)
	}
}
