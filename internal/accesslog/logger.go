package accesslog

import (
	"fmt"
	"io"
	"strings"
	"sync"
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

// Logger writes whole lines to w. Each entry is encoded into its own buffer
// and handed to w in a single Write under a lock, so lines from many
// goroutines never interleave even when w is a plain file or pipe.
type Logger struct {
	w      io.Writer
	append func([]byte, *Entry) []byte
	mu     sync.Mutex
	bufs   sync.Pool
}

// New returns a Logger writing format to w.
func New(w io.Writer, format Format) *Logger {
	l := &Logger{w: w, append: AppendJSON}
	if format == FormatText {
		l.append = AppendText
	}
	l.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return l
}

// Log writes one line for e.
func (l *Logger) Log(e *Entry) error {
	bp := l.bufs.Get().(*[]byte)
	line := l.append((*bp)[:0], e)
	l.mu.Lock()
	_, err := l.w.Write(line)
	l.mu.Unlock()
	// Keep unusually large buffers out of the pool so one huge line does
	// not pin memory for the life of the process.
	if cap(line) <= 64<<10 {
		*bp = line
		l.bufs.Put(bp)
	}
	return err
}
