package h2cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// writeGrace is how long a cancelled stream's write may stay blocked before the connection is broken.
const writeGrace = 500 * time.Millisecond

// stream is one request and its response.
type stream struct {
	c        *conn
	q        *request
	id       uint32
	cond     sync.Cond // on c.mu: the body's reader waits for DATA
	headersc chan struct{}
	body     respBody
	writing  atomic.Bool // a write of this stream is in progress

	// guarded by c.mu
	stopCtx     func() bool
	resp        *http.Response
	err         error // the stream failed before its response header
	headersDone bool
	sendWindow  int64
	recvWindow  int32
	unacked     int32
	buf         dataBuffer
	bodyErr     error // what Read returns once buf is drained
	trailer     http.Header
	declared    int64 // the response's Content-Length, or -1
	got         int64
	respDone    bool // END_STREAM or reset received
	sendDone    bool // END_STREAM or reset sent
	dead        bool // reset or failed
	removed     bool
	bodyClosed  bool
}

// abortLocked ends the stream with err, waking whoever waits on it; it reports whether the server still
// holds the stream open (the caller then sends RST_STREAM).
func (s *stream) abortLocked(err error) (rst bool) {
	if s.dead {
		return false
	}
	rst = !s.respDone || !s.sendDone
	s.dead, s.respDone, s.sendDone = true, true, true
	if !s.headersDone {
		s.headersDone, s.err = true, err
		close(s.headersc)
	}
	if s.bodyErr == nil {
		s.bodyErr = err
	}
	// What the caller will never read returns to the connection's window: without it, streams
	// abandoned with full buffers would leave the server no window to answer the next ones.
	if inc := s.c.creditLocked(s.buf.discard()); inc > 0 {
		go s.c.writeWindowUpdates(0, inc, 0)
	}
	s.removeLocked()
	s.cond.Broadcast()
	s.c.sendCond.Broadcast()
	return rst && !s.c.closed
}

// finishLocked removes the stream once both directions have ended.
func (s *stream) finishLocked() {
	if s.respDone && s.sendDone {
		s.removeLocked()
	}
}

func (s *stream) removeLocked() {
	if s.removed {
		return
	}
	s.removed = true
	c := s.c
	delete(c.streams, s.id)
	if len(c.streams) == 0 {
		c.idleSince = time.Now()
		if c.goAway && !c.closed {
			go c.closeWith(&ConnError{Reason: "server sent GOAWAY"})
		}
	}
}

// cancel is the request's context ending: the stream is reset, and a write of it stuck on a server that
// stopped reading breaks the connection (its state is unknown).
func (s *stream) cancel(err error) {
	c := s.c
	c.mu.Lock()
	rst := s.abortLocked(err)
	c.mu.Unlock()
	if s.writing.Load() {
		// The stream's write is stuck behind a server that stopped reading (or waits for the lock a
		// stuck write holds): unless it completes shortly, break the connection so the caller returns.
		time.AfterFunc(writeGrace, func() {
			if s.writing.Load() {
				c.tc.SetWriteDeadline(time.Now())
			}
		})
	}
	if rst {
		c.writeRST(s.id, codeCancel)
	}
}

// watchLocked resets the stream when its request's context ends, from now until stopWatching.
func (s *stream) watchLocked() {
	if s.stopCtx != nil || s.dead {
		return
	}
	ctx := s.q.r.Context()
	if ctx.Done() == nil {
		return
	}
	s.stopCtx = context.AfterFunc(ctx, func() { s.cancel(context.Cause(ctx)) })
}

func (s *stream) stopWatching() {
	s.c.mu.Lock()
	stop := s.stopCtx
	s.c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

var bodyBufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// writeBody sends the request body as it is read, within the flow-control windows, and ends the stream
// (with trailers when the request has them). rest is a held body the windows did not admit at once.
func (s *stream) writeBody(rest []byte) {
	c := s.c
	r := s.q.r
	var buf *[]byte
	if rest == nil {
		buf = bodyBufPool.Get().(*[]byte)
		defer bodyBufPool.Put(buf)
	}
	c.mu.Lock()
	s.watchLocked()
	c.mu.Unlock()
	defer s.stopWatching()
	closeBody := func() {
		if s.q.bodyRead.Load() {
			r.Body.Close()
		}
	}
	for {
		var data []byte
		var rerr error
		if rest != nil {
			data, rerr = rest, io.EOF
		} else {
			c.mu.Lock()
			dead := s.dead
			if !dead {
				s.q.bodyRead.Store(true)
			}
			c.mu.Unlock()
			if dead {
				closeBody()
				return
			}
			n, err := r.Body.Read(*buf)
			data, rerr = (*buf)[:n], err
		}
		for len(data) > 0 {
			n, err := s.awaitWindow(len(data))
			if err != nil {
				closeBody()
				return
			}
			if !s.write(func() error { return c.fr.WriteData(s.id, false, data[:n]) }) {
				closeBody()
				return
			}
			data = data[n:]
		}
		if rerr == io.EOF {
			ok := s.write(func() error {
				if len(r.Trailer) > 0 {
					return c.writeHeaderBlock(s.id, true, int(c.maxFrameNow()), func() { encodeTrailers(c.henc, &c.lower, r.Trailer) })
				}
				return c.fr.WriteData(s.id, true, nil)
			})
			if ok {
				c.mu.Lock()
				s.sendDone = true
				s.finishLocked()
				c.mu.Unlock()
			}
			closeBody()
			return
		}
		if rerr != nil {
			c.mu.Lock()
			rst := s.abortLocked(fmt.Errorf("reading the request body: %w", rerr))
			c.mu.Unlock()
			if rst {
				c.writeRST(s.id, codeCancel)
			}
			closeBody()
			return
		}
	}
}

// write runs one frame write of the stream and flushes it, unless the stream has ended; false when it
// has, or the write failed (which fails the connection).
func (s *stream) write(frame func() error) bool {
	c := s.c
	s.writing.Store(true)
	c.wmu.Lock()
	c.mu.Lock()
	dead := s.dead
	c.mu.Unlock()
	if dead {
		c.wmu.Unlock()
		s.writing.Store(false)
		return false
	}
	err := frame()
	if err == nil {
		err = c.bw.Flush()
	}
	s.writing.Store(false)
	c.wmu.Unlock()
	if err != nil {
		c.closeWith(&ConnError{Reason: "writing a request body", Err: err})
		return false
	}
	return true
}

// awaitWindow waits until the stream may send, taking up to n bytes of both windows.
func (s *stream) awaitWindow(n int) (int, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if s.dead {
			return 0, s.bodyErr
		}
		w := min(int64(n), s.sendWindow, c.sendWindow, int64(c.maxFrame))
		if w > 0 {
			s.sendWindow -= w
			c.sendWindow -= w
			return int(w), nil
		}
		c.sendCond.Wait()
	}
}
