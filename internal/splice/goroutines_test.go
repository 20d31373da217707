package splice

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"
)

// TestJoinRunsOneDirectionInItsCallersGoroutine: a tunnel costs its caller's goroutine and one more
// (the other direction), not two more; with no idle timeout and a context that cannot end, nothing else.
func TestJoinRunsOneDirectionInItsCallersGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newChain(t, context.Background(), nil) // Join runs in a goroutine of the chain's
	io.WriteString(c.client, "x")
	if _, err := io.ReadFull(c.server, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c.server, "y")
	if _, err := io.ReadFull(c.client, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	var extra int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if extra = runtime.NumGoroutine() - before; extra <= 2 { // the accept goroutines may still be ending
			break
		}
	}
	if extra != 2 {
		t.Errorf("a running Join holds %d goroutines (its caller's included), want 2", extra)
	}
	c.client.Close()
	c.server.Close()
	if r := c.wait(t); r.aToB != 1 || r.bToA != 1 {
		t.Errorf("Join = %d, %d, %v; want 1, 1", r.aToB, r.bToA, r.err)
	}
}
