package h2limit

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Why read the frames on the connection rather than count handlers whose request context ended
// early: a rapid reset aims at streams whose handler has not started yet (Go queues them once
// MaxConcurrentStreams handlers run), so counting handlers misses exactly the cheap resets, and an
// http.Handler has no way to send a connection-level GOAWAY. Only the 9-byte frame headers are read
// (payloads are skipped, nothing is decoded), and a GOAWAY is written only between two frames the
// server wrote, so the server's frame stream is never corrupted.

// ErrResetBudget is what the server's frame reader gets once the connection went over its budget.
var ErrResetBudget = errors.New("h2limit: stream reset budget exceeded; connection closed with GOAWAY")

const (
	frameHeaders   = 0x1
	frameRSTStream = 0x3
)

// guarded is a server-side HTTP/2 connection that watches the frames going both ways.
type guarded struct {
	*tls.Conn // keeps ConnectionState, which the HTTP/2 server reads for r.TLS
	log       *slog.Logger
	burst     float64
	rate      float64
	maxTrack  int

	// wmu orders writes on the connection (the server's and the GOAWAY) and guards out and
	// sentGoAway; it is held across a write, so reads never wait for it.
	wmu        sync.Mutex
	out        frameScanner
	sentGoAway bool

	mu       sync.Mutex // the fields below
	in       frameScanner
	pending  map[uint32]struct{} // streams the client opened that the server has not answered
	lastOpen uint32
	tokens   float64
	refilled time.Time
	resets   int // streams spent from the budget
	tripped  bool

	closeOnce sync.Once
}

func newGuarded(c *tls.Conn, l Limits, log *slog.Logger) *guarded {
	return &guarded{
		Conn:     c,
		log:      log,
		burst:    float64(l.ResetBurst),
		rate:     l.ResetsPerSecond,
		maxTrack: 8 * int(l.MaxConcurrentStreams),
		in:       frameScanner{skip: len(http2.ClientPreface)},
		pending:  map[uint32]struct{}{},
		tokens:   float64(l.ResetBurst),
		refilled: time.Now(),
	}
}

func (g *guarded) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	g.mu.Lock()
	if g.tripped {
		g.mu.Unlock()
		return 0, ErrResetBudget
	}
	g.in.scan(p[:n], g.inbound)
	tripped := g.tripped
	g.mu.Unlock()
	if tripped {
		g.finish()
		return 0, ErrResetBudget
	}
	return n, err
}

func (g *guarded) Write(p []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.sentGoAway {
		return 0, ErrResetBudget
	}
	n, err := g.Conn.Write(p)
	g.mu.Lock()
	g.out.scan(p[:n], g.outbound)
	tripped := g.tripped
	g.mu.Unlock()
	if tripped {
		g.finishLocked()
	}
	return n, err
}

func (g *guarded) Close() error {
	g.mu.Lock()
	tripped := g.tripped
	g.mu.Unlock()
	if tripped {
		g.wmu.Lock()
		g.finishLocked()
		g.wmu.Unlock()
	}
	var err error
	g.closeOnce.Do(func() { err = g.Conn.Close() })
	return err
}

// inbound sees each frame header the client sends. Called with g.mu held.
func (g *guarded) inbound(typ byte, stream uint32) {
	switch typ {
	case frameHeaders:
		if stream > g.lastOpen { // a new stream; a later HEADERS on an old one is trailers
			g.lastOpen = stream
			if len(g.pending) < g.maxTrack {
				g.pending[stream] = struct{}{}
			}
		}
	case frameRSTStream:
		if _, ok := g.pending[stream]; ok {
			delete(g.pending, stream)
			g.spend()
		}
	}
}

// outbound sees each frame header the server sends. Called with g.mu and g.wmu held.
func (g *guarded) outbound(typ byte, stream uint32) {
	switch typ {
	case frameHeaders:
		delete(g.pending, stream) // answered
	case frameRSTStream:
		// The server refused or aborted a stream it never answered: over the stream limit, or a
		// malformed request. Both are the client's doing, and cost the server as a reset does.
		if _, ok := g.pending[stream]; ok {
			delete(g.pending, stream)
			g.spend()
		}
	}
}

// spend takes one token from the bucket; the connection trips when there is none. Called with g.mu held.
func (g *guarded) spend() {
	now := time.Now()
	g.tokens = min(g.burst, g.tokens+now.Sub(g.refilled).Seconds()*g.rate)
	g.refilled = now
	g.resets++
	if g.tokens >= 1 {
		g.tokens--
		return
	}
	if !g.tripped {
		g.tripped = true
		g.logTrip()
	}
}

// logTrip writes the connection's one log line. Called with g.mu held, once.
func (g *guarded) logTrip() {
	args := []any{"remote", g.RemoteAddr().String(), "stream_resets", g.resets,
		"reset_burst", int(g.burst), "resets_per_second", g.rate}
	if cs := g.ConnectionState(); len(cs.VerifiedChains) > 0 && len(cs.VerifiedChains[0]) > 0 {
		for _, u := range cs.VerifiedChains[0][0].URIs {
			args = append(args, "peer", u.String())
		}
	}
	g.log.Warn("http2 connection closed: stream reset budget exceeded (rapid reset?)", args...)
}

// finish sends GOAWAY and closes the connection, from the reading side: a write the server has in
// flight is given a second to finish (a client that stops reading cannot hold the close off).
func (g *guarded) finish() {
	_ = g.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	g.wmu.Lock()
	g.finishLocked()
	g.wmu.Unlock()
}

// finishLocked writes GOAWAY ENHANCE_YOUR_CALM if the server's last write ended on a frame boundary
// (else the frame would land inside another), then closes. Called with g.wmu held.
func (g *guarded) finishLocked() {
	if !g.sentGoAway {
		g.sentGoAway = true
		if g.out.atBoundary() {
			g.mu.Lock()
			last := g.lastOpen
			g.mu.Unlock()
			var buf bytes.Buffer
			fr := http2.NewFramer(&buf, nil)
			_ = fr.WriteGoAway(last, http2.ErrCodeEnhanceYourCalm, []byte("too many stream resets"))
			_ = g.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = g.Conn.Write(buf.Bytes())
		}
	}
	g.closeOnce.Do(func() { _ = g.Conn.Close() })
}

// frameScanner finds HTTP/2 frame headers in a byte stream delivered in arbitrary pieces.
type frameScanner struct {
	skip int // bytes of preface or frame payload still to pass over
	hdr  [9]byte
	n    int // bytes of hdr filled
}

func (s *frameScanner) scan(p []byte, frame func(typ byte, stream uint32)) {
	for len(p) > 0 {
		if s.skip > 0 {
			k := min(s.skip, len(p))
			s.skip -= k
			p = p[k:]
			continue
		}
		k := copy(s.hdr[s.n:], p)
		s.n += k
		p = p[k:]
		if s.n < len(s.hdr) {
			return
		}
		s.n = 0
		s.skip = int(s.hdr[0])<<16 | int(s.hdr[1])<<8 | int(s.hdr[2])
		stream := (uint32(s.hdr[5])<<24 | uint32(s.hdr[6])<<16 | uint32(s.hdr[7])<<8 | uint32(s.hdr[8])) & 0x7fffffff
		frame(s.hdr[3], stream)
	}
}

func (s *frameScanner) atBoundary() bool { return s.skip == 0 && s.n == 0 }
