package h2cli

import (
	"context"
	"errors"
	"io"
	"sync"
)

const chunkSize = 16 << 10

type chunk struct {
	b    [chunkSize]byte
	r, w int
}

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// dataBuffer holds a stream's received DATA until the caller reads it, in pooled chunks; its size is
// bounded by the stream's receive window.
type dataBuffer struct {
	chunks []*chunk
	first  [1]*chunk // the usual one chunk, without allocating a slice for it
	n      int
}

func (d *dataBuffer) write(p []byte) {
	d.n += len(p)
	for len(p) > 0 {
		var c *chunk
		if k := len(d.chunks); k > 0 && d.chunks[k-1].w < chunkSize {
			c = d.chunks[k-1]
		} else {
			c = chunkPool.Get().(*chunk)
			c.r, c.w = 0, 0
			if d.chunks == nil {
				d.chunks = d.first[:0]
			}
			d.chunks = append(d.chunks, c)
		}
		m := copy(c.b[c.w:], p)
		c.w += m
		p = p[m:]
	}
}

func (d *dataBuffer) read(p []byte) int {
	n := 0
	for n < len(p) && len(d.chunks) > 0 {
		c := d.chunks[0]
		m := copy(p[n:], c.b[c.r:c.w])
		c.r += m
		n += m
		if c.r == c.w {
			chunkPool.Put(c)
			d.chunks[0] = nil
			d.chunks = d.chunks[1:]
		}
	}
	d.n -= n
	return n
}

// discard drops what is buffered, returning how much.
func (d *dataBuffer) discard() int {
	n := d.n
	for _, c := range d.chunks {
		chunkPool.Put(c)
	}
	d.chunks, d.n = nil, 0
	return n
}

var errBodyClosed = errors.New("h2cli: read on closed response body")

// respBody is a response's body: what the reader goroutine buffered, read by the caller, each read
// returning receive window to the server.
type respBody struct{ s *stream }

func (b *respBody) Read(p []byte) (int, error) {
	s := b.s
	c := s.c
	c.mu.Lock()
	for s.buf.n == 0 {
		if err := s.bodyErr; err != nil {
			if err == io.EOF && s.trailer != nil {
				tr := s.resp.Trailer
				if tr == nil {
					tr = s.trailer
				} else {
					for k, vv := range s.trailer {
						tr[k] = vv
					}
				}
				s.resp.Trailer, s.trailer = tr, nil
			}
			c.mu.Unlock()
			s.stopWatching()
			return 0, err
		}
		if len(p) == 0 {
			c.mu.Unlock()
			return 0, nil
		}
		if err := s.q.r.Context().Err(); err != nil {
			c.mu.Unlock()
			s.cancel(context.Cause(s.q.r.Context()))
			c.mu.Lock()
			continue
		}
		s.watchLocked()
		s.cond.Wait()
	}
	n := s.buf.read(p)
	connInc := c.creditLocked(n)
	var streamInc int32
	if !s.respDone {
		s.unacked += int32(n)
		if s.unacked >= c.t.streamWindow()/4 {
			streamInc, s.unacked = s.unacked, 0
			s.recvWindow += streamInc
		}
	}
	id := s.id
	c.mu.Unlock()
	if connInc > 0 || streamInc > 0 {
		c.writeWindowUpdates(id, connInc, streamInc)
	}
	return n, nil
}

// Close ends the stream: a response not read to its end is reset (CANCEL), and what was buffered
// returns to the connection's window.
func (b *respBody) Close() error {
	s := b.s
	c := s.c
	c.mu.Lock()
	if s.bodyClosed {
		c.mu.Unlock()
		return nil
	}
	s.bodyClosed = true
	rst := s.abortLocked(errBodyClosed)
	connInc := c.creditLocked(s.buf.discard())
	s.bodyErr = errBodyClosed
	c.mu.Unlock()
	s.stopWatching()
	if rst {
		c.writeRST(s.id, codeCancel)
	}
	if connInc > 0 {
		c.writeWindowUpdates(0, connInc, 0)
	}
	return nil
}
