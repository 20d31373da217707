// Package connlimit bounds the connections a proxy's listener holds at once, in total and per source
// address, so one noisy client cannot use up the file descriptors and goroutines its neighbours need.
package connlimit

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Params configure a limited listener.
type Params struct {
	// Max is how many accepted connections may be open at once; past it Accept waits for one to close,
	// so further clients queue in the kernel's backlog instead of costing the process anything. 0 = no limit.
	Max int
	// PerSource is how many of them one source IP may hold; a connection past it is closed at once.
	// 0 = no limit.
	PerSource int
	// Log gets one line when the limit is first reached and at most one per LogEvery after that.
	Log      *slog.Logger
	LogEvery time.Duration // default 10 s
	// Listener names the listener in log lines (its address by default).
	Listener string
}

// Listener is a net.Listener with Params' limits.
type Listener struct {
	net.Listener
	p     Params
	slots chan struct{}

	mu       sync.Mutex
	bySource map[string]int

	lastLog   atomic.Int64 // unix nanos of the last limit line
	waited    atomic.Int64 // Accepts that waited for a slot since the last line
	refused   atomic.Int64 // connections closed for their source's limit since the last line
	closeOnce sync.Once
	done      chan struct{}
}

// New wraps ln with p's limits.
func New(ln net.Listener, p Params) *Listener {
	if p.LogEvery == 0 {
		p.LogEvery = 10 * time.Second
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Listener == "" {
		p.Listener = ln.Addr().String()
	}
	l := &Listener{Listener: ln, p: p, bySource: map[string]int{}, done: make(chan struct{})}
	if p.Max > 0 {
		l.slots = make(chan struct{}, p.Max)
	}
	return l
}

// Accept waits for a free slot, then returns the next connection whose source is under its limit.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		if err := l.acquire(); err != nil {
			return nil, err
		}
		c, err := l.Listener.Accept()
		if err != nil {
			l.release()
			return nil, err
		}
		src := sourceOf(c)
		if !l.admit(src) {
			l.refused.Add(1)
			l.note("a source holds its share of connections; closing its new ones", src)
			c.Close()
			l.release()
			continue
		}
		return &conn{Conn: c, l: l, src: src}, nil
	}
}

// Close stops the listener and wakes an Accept waiting for a slot.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Open is how many accepted connections are open now.
func (l *Listener) Open() int {
	if l.slots == nil {
		return 0
	}
	return len(l.slots)
}

func (l *Listener) acquire() error {
	if l.slots == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	l.waited.Add(1)
	l.note("connection limit reached; new connections wait until one closes", "")
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-l.done:
		return net.ErrClosed
	}
}

func (l *Listener) release() {
	if l.slots != nil {
		<-l.slots
	}
}

func (l *Listener) admit(src string) bool {
	if l.p.PerSource <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySource[src] >= l.p.PerSource {
		return false
	}
	l.bySource[src]++
	return true
}

func (l *Listener) leave(src string) {
	if l.p.PerSource <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// note logs msg unless a limit line went out less than LogEvery ago.
func (l *Listener) note(msg, src string) {
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if last != 0 && now-last < int64(l.p.LogEvery) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	attrs := []any{"listener", l.p.Listener, "max_connections", l.p.Max, "max_per_source", l.p.PerSource,
		"waited", l.waited.Swap(0), "refused", l.refused.Swap(0)}
	if src != "" {
		attrs = append(attrs, "source", src)
	}
	l.p.Log.Warn(msg, attrs...)
}

func sourceOf(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// conn gives its slot back when closed (once).
type conn struct {
	net.Conn
	l    *Listener
	src  string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.leave(c.src)
		c.l.release()
	})
	return err
}

// Unwrap returns the accepted connection (for code that needs the *net.TCPConn, such as SO_ORIGINAL_DST).
func (c *conn) Unwrap() net.Conn { return c.Conn }

// CloseWrite half-closes the accepted connection, so splicing through a limited listener still passes EOF on.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// SyscallConn reaches the socket (the transparent sidecar reads SO_ORIGINAL_DST from it).
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
