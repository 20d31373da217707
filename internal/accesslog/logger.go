package accesslog

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Format selects an encoder.
type Format int

// Formats. JSON is the default, as in egret's design; TEXT is Istio's.
const (
	FormatJSON Format = iota
	FormatText
)

// ParseFormat accepts Istio's meshConfig.accessLogEncoding values.
func ParseFormat(s string) (Format, error) {
	switch strings.ToUpper(s) {
	case "", "JSON":
		return FormatJSON, nil
	case "TEXT":
		return FormatText, nil
	}
	return 0, fmt.Errorf("access log format %q: must be JSON or TEXT", s)
}

func (f Format) String() string {
	if f == FormatText {
		return "TEXT"
	}
	return "JSON"
}

// Options tune how a Logger writes.
type Options struct {
	// Buffer, when above zero, takes writes off the request path: lines are appended to a pending batch
	// of at most Buffer bytes, which a writer goroutine hands to w in one Write. A line that does not
	// fit is dropped and counted (Dropped), never waited for. Zero writes each line synchronously, as
	// New does.
	Buffer int
	// FlushInterval, when above zero, is how long a line may wait for others to join its batch (the
	// batch is written sooner once a quarter of Buffer is full). Zero writes a batch as soon as the
	// writer runs: the first line of a batch wakes it, the lines that arrive while it writes form the
	// next one, so batches grow with the load and a line is never held back when the proxy is idle.
	FlushInterval time.Duration
	// SampleEvery, above 1, logs one in SampleEvery routine entries (allowed and answered below 400);
	// denials, dry-run denials and failures are always logged. 0 or 1 logs every entry.
	SampleEvery int
	// OnDrop, if set, is called by the writer after a flush when lines were dropped since the last
	// call, with how many.
	OnDrop func(dropped uint64)
}

// Logger writes whole lines to w. Each entry is encoded into its own buffer and handed to w in a
// single Write (or, buffered, as part of one batch) under a lock, so lines from many goroutines never
// interleave even when w is a plain file or pipe.
type Logger struct {
	w      io.Writer
	append func([]byte, *Entry) []byte
	opts   Options
	mu     sync.Mutex // held while writing to w
	bufs   sync.Pool

	// Buffered mode.
	pmu      sync.Mutex // guards pending and closed
	pending  []byte
	spare    []byte
	closed   bool
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	dropped  atomic.Uint64
	reported uint64 // drops already passed to OnDrop (writer only)

	seen    atomic.Uint64 // routine entries seen, for sampling
	skipped atomic.Uint64 // routine entries not logged by sampling
}

// New returns a Logger writing format to w, one synchronous Write per line.
func New(w io.Writer, format Format) *Logger { return NewWith(w, format, Options{}) }

// NewWith returns a Logger writing format to w as opts say. A buffered Logger must be closed (Close)
// to write its last lines.
func NewWith(w io.Writer, format Format, opts Options) *Logger {
	l := &Logger{w: w, append: AppendJSON, opts: opts}
	if format == FormatText {
		l.append = AppendText
	}
	l.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	if opts.Buffer > 0 {
		l.pending = make([]byte, 0, min(opts.Buffer, 256<<10))
		l.kick, l.stop, l.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go l.writer()
	}
	return l
}

// Log writes one line for e (or, sampled out, none).
func (l *Logger) Log(e *Entry) error {
	if l.opts.SampleEvery > 1 && routine(e) && (l.seen.Add(1)-1)%uint64(l.opts.SampleEvery) != 0 {
		l.skipped.Add(1)
		return nil
	}
	bp := l.bufs.Get().(*[]byte)
	line := l.append((*bp)[:0], e)
	var err error
	if !l.enqueue(line) {
		l.mu.Lock()
		_, err = l.w.Write(line)
		l.mu.Unlock()
	}
	// Keep unusually large buffers out of the pool so one huge line does
	// not pin memory for the life of the process.
	if cap(line) <= 64<<10 {
		*bp = line
		l.bufs.Put(bp)
	}
	return err
}

// routine is an entry sampling may leave out: allowed and answered below 400.
func routine(e *Entry) bool {
	return e.Decision == DecisionAllow && e.Status < 400 && len(e.ResponseFlags) == 0
}

// enqueue appends line to the pending batch; false means the Logger is not buffered (or closed) and
// the caller writes it itself. A line that does not fit is dropped and counted.
func (l *Logger) enqueue(line []byte) bool {
	if l.kick == nil {
		return false
	}
	l.pmu.Lock()
	if l.closed {
		l.pmu.Unlock()
		return false
	}
	if len(l.pending)+len(line) > l.opts.Buffer {
		l.pmu.Unlock()
		l.dropped.Add(1)
		return true
	}
	first := len(l.pending) == 0
	l.pending = append(l.pending, line...)
	wake := (first && l.opts.FlushInterval <= 0) || len(l.pending) >= l.opts.Buffer/4
	l.pmu.Unlock()
	if wake {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return true
}

func (l *Logger) writer() {
	defer close(l.done)
	var tick <-chan time.Time
	if l.opts.FlushInterval > 0 {
		t := time.NewTicker(l.opts.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
		case <-l.kick:
		case <-l.stop:
			_ = l.Flush()
			return
		}
		_ = l.Flush()
	}
}

// Flush writes every pending line now, in one Write. It is safe to call at any time (on SIGHUP, say);
// an unbuffered Logger has nothing pending.
func (l *Logger) Flush() error {
	if l.kick == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pmu.Lock()
	batch := l.pending
	l.pending = l.spare[:0]
	l.pmu.Unlock()
	var err error
	if len(batch) > 0 {
		_, err = l.w.Write(batch)
	}
	l.spare = batch[:0]
	if l.opts.OnDrop != nil {
		if d := l.dropped.Load(); d > l.reported {
			l.opts.OnDrop(d - l.reported)
			l.reported = d
		}
	}
	return err
}

// Close writes what is pending and stops the writer; later lines are written synchronously. Close
// before closing w.
func (l *Logger) Close() error {
	if l.kick == nil {
		return nil
	}
	l.pmu.Lock()
	already := l.closed
	l.closed = true
	l.pmu.Unlock()
	if already {
		return nil
	}
	close(l.stop)
	<-l.done
	return l.Flush()
}

// Dropped is the number of lines a full buffer refused.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// SampledOut is the number of routine entries sampling left out.
func (l *Logger) SampledOut() uint64 { return l.skipped.Load() }
