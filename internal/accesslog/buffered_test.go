package accesslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuf counts the Writes it receives and keeps the bytes.
type lockedBuf struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (w *lockedBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.b.Write(p)
}

func (w *lockedBuf) lines(t *testing.T) []map[string]any {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(w.b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a whole JSON line: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func allowed(i int) *Entry {
	return &Entry{StartTime: time.Unix(0, 0), Component: ComponentGateway, Method: "GET", Path: "/", Status: 200,
		Decision: DecisionAllow, RequestID: fmt.Sprint(i)}
}

func TestBufferedLogger(t *testing.T) {
	t.Run("every line from many goroutines is written whole, in few writes, by the time Close returns", func(t *testing.T) {
		w := &lockedBuf{}
		l := NewWith(w, FormatJSON, Options{Buffer: 1 << 20, FlushInterval: time.Hour})
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 250 {
					l.Log(allowed(g*1000 + i))
				}
			}()
		}
		wg.Wait()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		got := w.lines(t)
		if len(got) != 2000 {
			t.Fatalf("%d lines, want 2000", len(got))
		}
		seen := map[string]bool{}
		for _, m := range got {
			seen[m[FieldRequestID].(string)] = true
		}
		if len(seen) != 2000 || l.Dropped() != 0 {
			t.Fatalf("%d distinct lines, %d dropped", len(seen), l.Dropped())
		}
		if w.writes > 20 {
			t.Fatalf("%d writes for 2000 lines: not batched", w.writes)
		}
	})
	t.Run("Flush writes what is pending without waiting for the interval (SIGHUP)", func(t *testing.T) {
		w := &lockedBuf{}
		l := NewWith(w, FormatJSON, Options{Buffer: 1 << 20, FlushInterval: time.Hour})
		defer l.Close()
		l.Log(allowed(1))
		if n := len(w.lines(t)); n != 0 {
			t.Fatalf("%d lines before the flush", n)
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if n := len(w.lines(t)); n != 1 {
			t.Fatalf("%d lines after the flush, want 1", n)
		}
	})
	t.Run("the interval flushes on its own", func(t *testing.T) {
		w := &lockedBuf{}
		l := NewWith(w, FormatJSON, Options{Buffer: 1 << 20, FlushInterval: 10 * time.Millisecond})
		defer l.Close()
		l.Log(allowed(1))
		deadline := time.Now().Add(5 * time.Second)
		for len(w.lines(t)) != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the line was never flushed")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Run("with no interval a line is written without waiting for a flush", func(t *testing.T) {
		w := &lockedBuf{}
		l := NewWith(w, FormatJSON, Options{Buffer: 1 << 20})
		defer l.Close()
		l.Log(allowed(1))
		deadline := time.Now().Add(5 * time.Second)
		for len(w.lines(t)) != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the line was never written")
			}
			time.Sleep(time.Millisecond)
		}
	})
	t.Run("a full buffer drops lines, counts them and reports them, and never blocks", func(t *testing.T) {
		w := &lockedBuf{}
		var reported uint64
		l := NewWith(w, FormatJSON, Options{Buffer: 1000, FlushInterval: time.Hour, OnDrop: func(n uint64) { reported += n }})
		for i := range 50 {
			l.Log(allowed(i))
		}
		l.Close()
		kept := uint64(len(w.lines(t)))
		if l.Dropped() == 0 || kept+l.Dropped() != 50 || reported != l.Dropped() {
			t.Fatalf("kept %d, dropped %d, reported %d of 50", kept, l.Dropped(), reported)
		}
	})
	t.Run("after Close lines are written synchronously", func(t *testing.T) {
		w := &lockedBuf{}
		l := NewWith(w, FormatJSON, Options{Buffer: 1 << 20})
		l.Close()
		l.Log(allowed(1))
		if n := len(w.lines(t)); n != 1 {
			t.Fatalf("%d lines, want 1", n)
		}
	})
}

func TestSampledLogger(t *testing.T) {
	w := &lockedBuf{}
	l := NewWith(w, FormatJSON, Options{SampleEvery: 10})
	for i := range 100 {
		l.Log(allowed(i))
	}
	denied := &Entry{Component: ComponentGateway, Status: 403, Decision: DecisionDeny, Reason: "no rule", RequestID: "d"}
	failed := &Entry{Component: ComponentGateway, Status: 503, Decision: DecisionAllow, ResponseFlags: []Flag{FlagUpstreamConnFailure}, RequestID: "f"}
	dry := &Entry{Component: ComponentGateway, Status: 200, Decision: DecisionDryRunDeny, RequestID: "r"}
	for range 5 {
		l.Log(denied)
		l.Log(failed)
		l.Log(dry)
	}
	counts := map[string]int{}
	for _, m := range w.lines(t) {
		counts[fmt.Sprint(m[FieldDecision], "/", m[FieldResponseCode])]++
	}
	want := map[string]int{"allow/200": 10, "deny/403": 5, "allow/503": 5, "dryrun-deny/200": 5}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d lines, want %d (all %v)", k, counts[k], n, counts)
		}
	}
	if l.SampledOut() != 90 {
		t.Errorf("sampled out %d, want 90", l.SampledOut())
	}
}
