// Package splice copies bytes both ways between two connections, passing half-closes through, until both directions end.
package splice

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrIdleTimeout ends a Join when neither direction moved a byte for the
// configured idle timeout.
var ErrIdleTimeout = errors.New("splice: idle timeout")

// Option configures Join.
type Option func(*options)

type options struct {
	idle time.Duration
}

// IdleTimeout ends the join with ErrIdleTimeout after d without traffic in
// either direction. Zero (the default) means no idle limit.
func IdleTimeout(d time.Duration) Option { return func(o *options) { o.idle = d } }

const defaultBufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, defaultBufSize); return &b }}

// Join copies a→b and b→a until both directions have reached EOF, one of
// them fails, ctx is done, or the idle timeout passes. When one side
// reaches EOF, Join half-closes the other side's write direction (for
// *net.TCPConn, *tls.Conn and anything with a CloseWrite method) so the
// peer sees EOF and can still answer. A connection without CloseWrite can
// only learn of the EOF by being closed outright, which also ends the
// other direction on that side; Join then treats the resulting "closed"
// error as a clean end.
//
// Join closes both connections before it returns. It returns the bytes
// copied each way and nil when both directions ended cleanly, otherwise the
// first cause: ctx.Err(), ErrIdleTimeout, or the failing read or write.
func Join(ctx context.Context, a, b net.Conn, opts ...Option) (aToB, bToA int64, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	j := &joiner{a: a, b: b}
	j.touch()

	var nAB, nBA atomic.Int64
	done := make(chan struct{})
	go func() {
		if err := j.copy(a, b, &nBA, "b→a"); err != nil {
			j.abort(err) // the first failure ends both directions
		}
		close(done)
	}()

	if ctx.Done() != nil { // context.Background (the sidecar's tunnels) can never end a join
		stop := context.AfterFunc(ctx, func() { j.abort(ctx.Err()) })
		defer stop()
	}
	if o.idle > 0 {
		finished := make(chan struct{})
		defer close(finished)
		go j.watchIdle(o.idle, finished)
	}

	// a→b runs in the caller's goroutine: one goroutine fewer per tunnel.
	if err := j.copy(b, a, &nAB, "a→b"); err != nil {
		j.abort(err)
	}
	<-done
	j.abort(nil)
	return nAB.Load(), nBA.Load(), j.cause
}

type joiner struct {
	a, b  net.Conn
	last  atomic.Int64 // unix nanos of the last read that returned data
	once  sync.Once
	cause error

	// shutA/shutB are set when Join closed that connection itself to pass
	// an EOF on, so errors from using it afterwards are expected.
	shutA, shutB atomic.Bool
}

func (j *joiner) shut(c net.Conn) *atomic.Bool {
	if c == j.a {
		return &j.shutA
	}
	return &j.shutB
}

// watchIdle re-arms one timer for the remaining idle budget instead of
// ticking, so an active stream costs only an atomic store per read.
func (j *joiner) watchIdle(idle time.Duration, finished <-chan struct{}) {
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		select {
		case <-finished:
			return
		case <-t.C:
			idleFor := time.Since(time.Unix(0, j.last.Load()))
			if idleFor >= idle {
				j.abort(ErrIdleTimeout)
				return
			}
			t.Reset(idle - idleFor)
		}
	}
}

func (j *joiner) touch() { j.last.Store(time.Now().UnixNano()) }

// abort records the first cause and closes both connections, which also
// unblocks whichever copy is still reading.
func (j *joiner) abort(cause error) {
	j.once.Do(func() {
		j.cause = cause
		j.a.Close()
		j.b.Close()
	})
}

func (j *joiner) copy(dst, src net.Conn, n *atomic.Int64, dir string) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			j.touch()
			nw, werr := dst.Write(buf[:nr])
			n.Add(int64(nw))
			if werr != nil {
				if j.shut(dst).Load() {
					return nil
				}
				return fmt.Errorf("splice %s: write: %w", dir, werr)
			}
		}
		if rerr == io.EOF {
			if !closeWrite(dst) {
				j.shut(dst).Store(true)
				dst.Close()
			}
			return nil
		}
		if rerr != nil {
			if j.shut(src).Load() {
				return nil
			}
			return fmt.Errorf("splice %s: read: %w", dir, rerr)
		}
	}
}

type closeWriter interface{ CloseWrite() error }

// closeWrite passes EOF on and reports whether c could be half-closed. A
// *tls.Conn's CloseWrite only sends close_notify, so the TCP connection
// under it is half-closed as well, for peers that wait for the FIN.
func closeWrite(c net.Conn) bool {
	cw, ok := c.(closeWriter)
	if !ok || errors.Is(cw.CloseWrite(), errors.ErrUnsupported) {
		return false
	}
	if tc, ok := c.(*tls.Conn); ok {
		if cw, ok := tc.NetConn().(closeWriter); ok {
			cw.CloseWrite()
		}
	}
	return true
}
