package h2srv

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	initialWindow = 65535 // RFC 9113 §6.9.2
	maxWindow     = 1<<31 - 1
	minFrameSize  = 16384
)

// conn is one HTTP/2 connection. Locks: wmu (the write buffer, the HPACK encoder, the network
// write) may be held while taking mu (streams, windows, state); never the other way round.
type conn struct {
	s      *Server
	hs     *http.Server
	tc     *tls.Conn
	h      http.Handler
	cs     tls.ConnectionState
	remote string
	ctx    context.Context
	cancel context.CancelFunc
	fr     *http2.Framer

	// Reader-goroutine only.
	dec        *hpack.Decoder
	fields     []hpack.HeaderField
	listSize   int
	truncated  bool
	badField   bool
	framesRead atomic.Uint64

	wmu     sync.Mutex
	wcond   sync.Cond // on wmu: the writer finished a write
	writing bool      // a goroutine is writing outside wmu
	wb      *[]byte   // pending output, from bufPool; nil when nothing is pending
	enc     *hpack.Encoder
	hbuf    bytes.Buffer
	werr    error
	date    dateCache
	clN     int64
	clS     string

	peerMaxFrame atomic.Uint32

	mu            sync.Mutex
	streams       map[uint32]*stream
	maxClientID   uint32
	sendWin       int64 // connection send window
	recvWin       int64 // how much more the client may send on the connection
	connUnacked   int64 // consumed but not yet returned with WINDOW_UPDATE
	peerInitWin   int64
	ourInitWin    int64 // the stream window the client counts: 65535 until it acks our SETTINGS
	goingAway     bool
	goAwayID      uint32
	closed        bool
	idleSince     time.Time
	pingOut       bool
	pingSent      time.Time
	lastFrames    uint64
	tokens        float64
	refilled      time.Time
	resets        int
	tripped       bool
	closeWhenIdle bool
	idleTimer     *time.Timer
	pingTimer     *time.Timer
}

func newConn(s *Server, ctx context.Context, hs *http.Server, tc *tls.Conn, h http.Handler) *conn {
	c := &conn{s: s, hs: hs, tc: tc, h: h, cs: tc.ConnectionState(), remote: tc.RemoteAddr().String(),
		streams: map[uint32]*stream{}, sendWin: initialWindow, recvWin: initialWindow, peerInitWin: initialWindow,
		ourInitWin: max(initialWindow, int64(s.l.MaxUploadBufferPerStream)),
		tokens:     float64(s.l.ResetBurst), refilled: time.Now(), idleSince: time.Now()}
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.wcond.L = &c.wmu
	c.peerMaxFrame.Store(minFrameSize)
	c.fr = http2.NewFramer(nil, tc)
	c.fr.SetMaxReadFrameSize(s.l.MaxReadFrameSize)
	c.fr.SetReuseFrames()
	c.dec = hpack.NewDecoder(s.l.MaxHeaderTableSize, c.emit)
	c.dec.SetMaxStringLength(s.maxHeaderBytes)
	c.enc = hpack.NewEncoder(&c.hbuf)
	c.enc.SetMaxDynamicTableSizeLimit(s.l.MaxHeaderTableSize)
	return c
}

// serve reads the client's frames until the connection ends.
func (c *conn) serve() {
	defer c.shut()
	_ = c.tc.SetReadDeadline(time.Now().Add(c.s.prefaceTimeout))
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.tc, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		return // not HTTP/2: nothing to answer in its language
	}
	_ = c.tc.SetReadDeadline(time.Time{})
	c.writeServerPreface()
	c.armTimers()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &se):
				c.mu.Lock()
				st := c.streams[se.StreamID]
				c.mu.Unlock()
				if st != nil {
					c.resetStream(st, se.Code, false)
				} else {
					c.writeRST(se.StreamID, se.Code)
				}
				continue
			case errors.As(err, &ce):
				c.fail(connError{http2.ErrCode(ce), "frame: " + err.Error()})
			case errors.Is(err, http2.ErrFrameTooLarge):
				c.fail(connError{http2.ErrCodeFrameSize, "frame too large"})
			}
			return
		}
		c.framesRead.Add(1)
		if err := c.process(f); err != nil {
			var ce connError
			if errors.As(err, &ce) {
				c.fail(ce)
			}
			return
		}
	}
}

// fail sends GOAWAY with the error, stops writing, and reads what the client still sends for a
// moment, so the close is a FIN the client reads after the GOAWAY rather than a TCP reset.
func (c *conn) fail(e connError) {
	c.mu.Lock()
	last := c.maxClientID
	c.goingAway = true
	c.mu.Unlock()
	c.wmu.Lock()
	c.appendGoAway(last, e.code, e.reason)
	_ = c.tc.SetWriteDeadline(time.Now().Add(time.Second))
	c.drainLocked()
	c.wmu.Unlock()
	c.lingerAndClose()
}

// lingerAndClose half-closes the connection and discards the client's bytes for up to a second.
func (c *conn) lingerAndClose() {
	c.closeGracefully()
	_, _ = io.Copy(io.Discard, c.tc)
}

// shut ends the connection: every stream's context and waits end.
func (c *conn) shut() {
	c.mu.Lock()
	c.closed = true
	streams := make([]*stream, 0, len(c.streams))
	for _, st := range c.streams {
		streams = append(streams, st)
	}
	if c.idleTimer != nil {
		c.idleTimer.Stop()
		c.pingTimer.Stop()
	}
	c.mu.Unlock()
	c.cancel()
	for _, st := range streams {
		c.mu.Lock()
		if st.bodyErr == nil {
			st.bodyErr = errConnClosed
		}
		st.reset = true
		st.cond.Broadcast()
		c.mu.Unlock()
	}
	c.wmu.Lock()
	if c.werr == nil {
		c.werr = errConnClosed
	}
	c.releaseBuf()
	c.wmu.Unlock()
	_ = c.tc.Close()
}

// process handles one frame. A connError ends the connection with GOAWAY.
func (c *conn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.HeadersFrame:
		return c.onHeaders(f)
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.PingFrame:
		return c.onPing(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onRSTStream(f)
	case *http2.GoAwayFrame:
		c.goAwayGracefully() // the client leaves: finish its streams and close
	case *http2.PushPromiseFrame:
		return connError{http2.ErrCodeProtocol, "PUSH_PROMISE from a client"}
	case *http2.ContinuationFrame:
		return connError{http2.ErrCodeProtocol, "CONTINUATION without HEADERS"}
	}
	// PRIORITY and unknown frame types are ignored (RFC 9113 §5.3.2, §5.5).
	return nil
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		// The client now counts our INITIAL_WINDOW_SIZE: the streams it opened before change by the
		// same amount as in its view (RFC 9113 §6.9.2).
		c.mu.Lock()
		if want := int64(c.s.l.MaxUploadBufferPerStream); c.ourInitWin != want {
			delta := want - c.ourInitWin
			c.ourInitWin = want
			for _, st := range c.streams {
				st.recvWin += delta
			}
		}
		c.mu.Unlock()
		return nil
	}
	var tableSize uint32
	setTable := false
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				return connError{http2.ErrCode(ce), "SETTINGS: " + err.Error()}
			}
			return connError{http2.ErrCodeProtocol, "SETTINGS: " + err.Error()}
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			tableSize, setTable = s.Val, true
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame.Store(s.Val)
		case http2.SettingInitialWindowSize:
			c.mu.Lock()
			delta := int64(s.Val) - c.peerInitWin
			c.peerInitWin = int64(s.Val)
			for _, st := range c.streams {
				st.sendWin += delta
				if st.sendWin > maxWindow {
					c.mu.Unlock()
					return connError{http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window"}
				}
				st.cond.Broadcast()
			}
			c.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if setTable {
		c.enc.SetMaxDynamicTableSize(tableSize)
	}
	c.appendFrame(http2.FrameSettings, http2.FlagSettingsAck, 0, nil)
	return c.flushLocked()
}

func (c *conn) onPing(f *http2.PingFrame) error {
	if f.IsAck() {
		c.mu.Lock()
		c.pingOut = false
		c.mu.Unlock()
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.appendFrame(http2.FramePing, http2.FlagPingAck, 0, f.Data[:])
	return c.flushLocked()
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	if f.StreamID == 0 {
		c.sendWin += int64(f.Increment)
		if c.sendWin > maxWindow {
			c.mu.Unlock()
			return connError{http2.ErrCodeFlowControl, "connection window over 2^31-1"}
		}
		for _, st := range c.streams {
			if st.waitConn {
				st.cond.Broadcast()
			}
		}
		c.mu.Unlock()
		return nil
	}
	st, err := c.namedStreamLocked(f.StreamID, "WINDOW_UPDATE")
	if st == nil {
		c.mu.Unlock()
		return err
	}
	st.sendWin += int64(f.Increment)
	over := st.sendWin > maxWindow
	st.cond.Broadcast()
	c.mu.Unlock()
	if over {
		c.resetStream(st, http2.ErrCodeFlowControl, false)
	}
	return nil
}

// namedStreamLocked is the open stream a frame names: nil and a connection error for a stream the
// client never opened (RFC 9113 §5.1, idle), nil and no error for one already closed (the frame is
// ignored). Called with mu held.
func (c *conn) namedStreamLocked(id uint32, frame string) (*stream, error) {
	if st := c.streams[id]; st != nil {
		return st, nil
	}
	if id > c.maxClientID {
		return nil, connError{http2.ErrCodeProtocol, frame + " on an idle stream"}
	}
	return nil, nil
}

func (c *conn) onRSTStream(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	st, err := c.namedStreamLocked(f.StreamID, "RST_STREAM")
	if st == nil {
		c.mu.Unlock()
		return err
	}
	spent := !st.answered && c.spendLocked()
	c.mu.Unlock()
	c.resetStream(st, f.ErrCode, true)
	if spent {
		return c.overBudget()
	}
	return nil
}

// spendLocked takes a token from the reset budget and reports whether the bucket was empty (the
// connection must close). Called with mu held.
func (c *conn) spendLocked() bool {
	now := time.Now()
	c.tokens = min(float64(c.s.l.ResetBurst), c.tokens+now.Sub(c.refilled).Seconds()*c.s.l.ResetsPerSecond)
	c.refilled = now
	c.resets++
	if c.tokens >= 1 {
		c.tokens--
		return false
	}
	if c.tripped {
		return false
	}
	c.tripped = true
	return true
}

// overBudget logs the connection's one line and ends it with GOAWAY ENHANCE_YOUR_CALM.
func (c *conn) overBudget() error {
	args := []any{"remote", c.remote, "stream_resets", c.resets,
		"reset_burst", c.s.l.ResetBurst, "resets_per_second", c.s.l.ResetsPerSecond}
	if len(c.cs.VerifiedChains) > 0 && len(c.cs.VerifiedChains[0]) > 0 {
		for _, u := range c.cs.VerifiedChains[0][0].URIs {
			args = append(args, "peer", u.String())
		}
	}
	c.s.log.Warn("http2 connection closed: stream reset budget exceeded (rapid reset?)", args...)
	return connError{http2.ErrCodeEnhanceYourCalm, "too many stream resets"}
}

// goAwayGracefully sends GOAWAY NO_ERROR naming the last stream accepted; the connection closes
// once those streams are done.
func (c *conn) goAwayGracefully() {
	c.mu.Lock()
	if c.goingAway || c.closed {
		c.mu.Unlock()
		return
	}
	c.goingAway = true
	c.goAwayID = c.maxClientID
	idle := len(c.streams) == 0
	c.mu.Unlock()
	c.wmu.Lock()
	c.appendGoAway(c.goAwayID, http2.ErrCodeNo, "")
	_ = c.flushLocked()
	c.wmu.Unlock()
	if idle {
		c.closeGracefully()
	}
}

// goAwayAheadLocked appends GOAWAY NO_ERROR naming the last stream accepted, to go out with what
// is written next; the connection closes once its streams are done (removeStream). Called with wmu
// held.
func (c *conn) goAwayAheadLocked() {
	c.mu.Lock()
	if c.goingAway || c.closed {
		c.mu.Unlock()
		return
	}
	c.goingAway = true
	c.goAwayID = c.maxClientID
	id := c.goAwayID
	c.mu.Unlock()
	c.appendGoAway(id, http2.ErrCodeNo, "")
}

// closeGracefully half-closes the connection (close_notify, FIN); the reader sees the client's
// end, or gives up after a second, and the connection closes.
func (c *conn) closeGracefully() {
	c.wmu.Lock()
	c.drainLocked()
	if c.werr == nil {
		c.werr = errConnClosed
		_ = c.tc.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.tc.CloseWrite()
	}
	c.wmu.Unlock()
	_ = c.tc.SetReadDeadline(time.Now().Add(time.Second))
}

// armTimers starts the idle and ping checks. Both timers are re-armed only when they fire, so a
// request costs them nothing.
func (c *conn) armTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	idle := c.s.idleTimeout
	if idle <= 0 {
		idle = 365 * 24 * time.Hour
	}
	c.idleTimer = time.AfterFunc(idle, c.onIdleTimer)
	c.pingTimer = time.AfterFunc(c.s.l.PingAfter, c.onPingTimer)
}

func (c *conn) onIdleTimer() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.s.idleTimeout <= 0 {
		c.mu.Unlock()
		return
	}
	if len(c.streams) > 0 || c.idleSince.IsZero() {
		c.idleTimer.Reset(c.s.idleTimeout)
		c.mu.Unlock()
		return
	}
	if left := c.s.idleTimeout - time.Since(c.idleSince); left > 0 {
		c.idleTimer.Reset(left)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.goAwayGracefully()
}

func (c *conn) onPingTimer() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	n := c.framesRead.Load()
	if n != c.lastFrames {
		c.lastFrames = n
		c.pingOut = false
		c.pingTimer.Reset(c.s.l.PingAfter)
		c.mu.Unlock()
		return
	}
	if c.pingOut {
		if time.Since(c.pingSent) >= c.s.l.PingTimeout {
			c.mu.Unlock()
			_ = c.tc.Close() // the peer is gone: the reader ends
			return
		}
		c.pingTimer.Reset(c.s.l.PingTimeout - time.Since(c.pingSent))
		c.mu.Unlock()
		return
	}
	c.pingOut, c.pingSent = true, time.Now()
	c.pingTimer.Reset(c.s.l.PingTimeout)
	c.mu.Unlock()
	c.wmu.Lock()
	c.appendFrame(http2.FramePing, 0, 0, []byte("egretpng"))
	_ = c.flushLocked()
	c.wmu.Unlock()
}
