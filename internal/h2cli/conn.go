package h2cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	codeCancel   = http2.ErrCodeCancel
	codeProtocol = http2.ErrCodeProtocol
	codeFlow     = http2.ErrCodeFlowControl
	// maxStreamsCap bounds the streams opened on one connection when the server sets no limit.
	maxStreamsCap = 1000
)

// conn is one HTTP/2 connection: callers write their requests on it under wmu, its reader goroutine
// reads every frame, and mu guards the streams and both directions' flow-control windows.
type conn struct {
	t        *Transport
	tc       *tls.Conn
	tlsState *tls.ConnectionState

	wmu   sync.Mutex // frame writes, the write buffer and the header encoder
	bw    *bufio.Writer
	fr    *http2.Framer
	hbuf  bytes.Buffer
	henc  *hpack.Encoder
	lower lowerCache

	mu             sync.Mutex
	streams        map[uint32]*stream
	nextID         uint32
	maxStreams     uint32
	maxFrame       uint32
	peerInitWindow int32
	sendWindow     int64     // what the server lets the client send on the connection
	sendCond       sync.Cond // writers waiting for window
	recvWindow     int32     // what the server may still send on the connection
	recvUnacked    int32     // read by callers, not yet returned to the server
	goAway         bool
	closed         bool
	err            error
	idleSince      time.Time
	pingSent       time.Time
	pingData       uint64
	settingsc      chan struct{} // closed on the server's first SETTINGS
	gotSettings    bool
	readDone       chan struct{}

	br       *bufio.Reader
	hdec     *hpack.Decoder    // reader goroutine only
	hb       block             // reader goroutine only: the header block being read
	wakes    []wakeup          // reader goroutine only: callers to wake before the next wait
	canon    map[string]string // reader goroutine only: wire names → canonical keys
	readSeen atomic.Bool       // a frame arrived since the last tick
	timer    *time.Timer
}

func newConn(t *Transport, tc *tls.Conn) *conn {
	st := tc.ConnectionState()
	c := &conn{
		t: t, tc: tc, tlsState: &st,
		bw:             bufio.NewWriterSize(tc, 20<<10),
		streams:        make(map[uint32]*stream),
		nextID:         1,
		maxStreams:     maxStreamsCap,
		maxFrame:       16 << 10,
		peerInitWindow: 65535,
		sendWindow:     65535,
		recvWindow:     t.connWindow(),
		idleSince:      time.Now(),
		settingsc:      make(chan struct{}),
		readDone:       make(chan struct{}),
		canon:          make(map[string]string, 16),
	}
	c.sendCond.L = &c.mu
	c.br = bufio.NewReaderSize(tc, 8<<10)
	c.fr = http2.NewFramer(c.bw, c.br)
	c.hdec = hpack.NewDecoder(4096, c.onField)
	c.hdec.SetMaxStringLength(int(t.maxHeaderListSize()))
	c.fr.SetReuseFrames()
	c.henc = hpack.NewEncoder(&c.hbuf)
	return c
}

// handshake sends the preface and the client's settings and waits for the server's SETTINGS, so the
// first request already knows the server's limits.
func (c *conn) handshake(ctx context.Context) error {
	c.wmu.Lock()
	c.bw.WriteString(http2.ClientPreface)
	c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(c.t.streamWindow())},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: c.t.maxHeaderListSize()},
	)
	c.fr.WriteWindowUpdate(0, uint32(c.t.connWindow()-65535))
	err := c.bw.Flush()
	c.wmu.Unlock()
	if err != nil {
		return &ConnError{Reason: "writing the preface", Err: err}
	}
	go c.readLoop()
	timer := time.NewTimer(c.t.settingsTimeout())
	defer timer.Stop()
	select {
	case <-c.settingsc:
	case <-c.readDone:
		select {
		case <-c.settingsc:
			return nil // the server answered, then went away: the pool sees it is closed
		default:
		}
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return &ConnError{Reason: "no SETTINGS from the server within " + c.t.settingsTimeout().String()}
	}
	if p := c.tickPeriod(); p > 0 {
		c.mu.Lock()
		if !c.closed {
			c.timer = time.AfterFunc(p, c.tick)
		}
		c.mu.Unlock()
	}
	return nil
}

func (c *conn) canTake() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.canTakeLocked()
}

func (c *conn) canTakeLocked() bool {
	return !c.closed && !c.goAway && uint32(len(c.streams)) < c.maxStreams && c.nextID < math.MaxInt32
}

// roundTrip opens a stream for q, writes it, and waits for the response header.
func (c *conn) roundTrip(q *request) (*http.Response, error) {
	s := &stream{c: c, q: q, headersc: make(chan struct{}), declared: -1}
	s.cond.L = &c.mu
	s.body.s = s
	ctx := q.r.Context()

	s.writing.Store(true)
	c.wmu.Lock()
	c.mu.Lock()
	if !c.canTakeLocked() {
		c.mu.Unlock()
		c.wmu.Unlock()
		s.writing.Store(false)
		return nil, errConnUnusable
	}
	s.id = c.nextID
	c.nextID += 2
	c.streams[s.id] = s
	s.sendWindow = int64(c.peerInitWindow)
	s.recvWindow = c.t.streamWindow()
	inline := q.small
	if n := int64(len(inline)); n > 0 && (n > s.sendWindow || n > c.sendWindow) {
		inline = nil // not within the windows now: the writer goroutine waits for them
	} else if n > 0 {
		s.sendWindow -= n
		c.sendWindow -= n
	}
	maxFrame := int(c.maxFrame)
	c.mu.Unlock()
	endStream := !q.hasBody()
	err := c.writeHeaderBlock(s.id, endStream, maxFrame, func() { encodeHeaders(c.henc, &c.lower, q) })
	for data := inline; err == nil && len(data) > 0; {
		k := min(len(data), maxFrame)
		err = c.fr.WriteData(s.id, k == len(data), data[:k])
		data = data[k:]
	}
	if err == nil {
		err = c.bw.Flush()
	}
	s.writing.Store(false)
	c.wmu.Unlock()
	if err != nil {
		c.closeWith(&ConnError{Reason: "writing a request", Err: err})
	} else if endStream || len(inline) > 0 {
		c.mu.Lock()
		s.sendDone = true
		s.finishLocked()
		c.mu.Unlock()
	} else {
		var rest []byte
		if len(q.small) > 0 {
			rest = q.small
		}
		go s.writeBody(rest)
	}

	// The context is watched only while someone waits on the stream: here, then in a body Read that
	// must wait, and by a streaming body's writer; a call answered at once registers nothing.
	select {
	case <-s.headersc:
	case <-ctx.Done():
		s.cancel(ctx.Err())
		<-s.headersc
	}
	c.mu.Lock()
	resp, serr := s.resp, s.err
	c.mu.Unlock()
	if serr != nil {
		return nil, serr
	}
	return resp, nil
}

// writeHeaderBlock encodes a header block and writes it as HEADERS and CONTINUATION frames; the
// caller holds wmu and flushes.
func (c *conn) writeHeaderBlock(id uint32, endStream bool, maxFrame int, encode func()) error {
	c.hbuf.Reset()
	encode()
	block := c.hbuf.Bytes()
	first := block[:min(len(block), maxFrame)]
	block = block[len(first):]
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: endStream, EndHeaders: len(block) == 0})
	for err == nil && len(block) > 0 {
		k := min(len(block), maxFrame)
		err = c.fr.WriteContinuation(id, k == len(block), block[:k])
		block = block[k:]
	}
	return err
}

// creditLocked records n bytes consumed from the connection's receive window, returning an increment
// to send once a quarter of the window is owed (so small responses do not each cost a WINDOW_UPDATE).
func (c *conn) creditLocked(n int) int32 {
	if n <= 0 {
		return 0
	}
	c.recvUnacked += int32(n)
	if c.recvUnacked < c.t.connWindow()/4 || c.closed {
		return 0
	}
	inc := c.recvUnacked
	c.recvUnacked = 0
	c.recvWindow += inc
	return inc
}

func (c *conn) writeWindowUpdates(id uint32, connInc, streamInc int32) {
	c.wmu.Lock()
	var err error
	if connInc > 0 {
		err = c.fr.WriteWindowUpdate(0, uint32(connInc))
	}
	if err == nil && streamInc > 0 {
		c.mu.Lock()
		open := c.streams[id] != nil
		c.mu.Unlock()
		if open {
			err = c.fr.WriteWindowUpdate(id, uint32(streamInc))
		}
	}
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.closeWith(&ConnError{Reason: "writing WINDOW_UPDATE", Err: err})
	}
}

func (c *conn) writeRST(id uint32, code http2.ErrCode) {
	c.wmu.Lock()
	err := c.fr.WriteRSTStream(id, code)
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.closeWith(&ConnError{Reason: "writing RST_STREAM", Err: err})
	}
}

// closeWith fails the connection: every stream on it ends with err, and the socket is closed.
func (c *conn) closeWith(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.err = err
	for _, s := range c.streams {
		s.abortLocked(err)
	}
	c.sendCond.Broadcast()
	timer := c.timer
	c.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	// The raw socket, not the TLS close: a close_notify could block on a server that stopped reading.
	c.tc.NetConn().Close()
	c.t.remove(c)
}

// closeIfIdle closes the connection when no stream is open on it.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	idle := len(c.streams) == 0
	if idle {
		c.goAway = true // no stream may start on it between here and the close
	}
	c.mu.Unlock()
	if idle {
		c.closeWith(&ConnError{Reason: "closed while idle"})
	}
}

func (c *conn) tickPeriod() time.Duration {
	if c.t.PingAfter > 0 {
		return c.t.PingAfter
	}
	return c.t.IdleTimeout
}

// tick is the connection's housekeeping: a ping after a period of silence, failing the connection when
// no frame at all follows it within PingTimeout, and closing it once idle for IdleTimeout.
func (c *conn) tick() {
	now := time.Now()
	next := c.tickPeriod()
	seen := c.readSeen.Swap(false)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if !c.pingSent.IsZero() {
		if !seen && now.Sub(c.pingSent) >= c.t.PingTimeout {
			c.mu.Unlock()
			c.closeWith(&ConnError{Reason: fmt.Sprintf("the server did not answer a ping within %s", c.t.PingTimeout)})
			return
		}
		c.pingSent = time.Time{}
		seen = true
	}
	idle := len(c.streams) == 0 && c.t.IdleTimeout > 0 && now.Sub(c.idleSince) >= c.t.IdleTimeout
	if idle {
		c.goAway = true // no stream may start on it between here and the close
	}
	ping := !idle && c.t.PingAfter > 0 && !seen
	if ping {
		c.pingSent = now
		c.pingData++
	}
	data := c.pingData
	c.mu.Unlock()
	if idle {
		c.closeWith(&ConnError{Reason: "idle for " + c.t.IdleTimeout.String()})
		return
	}
	if ping {
		next = max(c.t.PingTimeout, time.Millisecond)
		// Never wait for the write lock here: a write stuck on a server that stopped reading holds it,
		// and this tick is what ends such a connection (no frame comes back either way).
		if c.wmu.TryLock() {
			var b [8]byte
			for i := range b {
				b[i] = byte(data >> (8 * i))
			}
			c.tc.SetWriteDeadline(now.Add(next))
			err := c.fr.WritePing(false, b)
			if err == nil {
				err = c.bw.Flush()
			}
			c.tc.SetWriteDeadline(time.Time{})
			c.wmu.Unlock()
			if err != nil {
				c.closeWith(&ConnError{Reason: "writing PING", Err: err})
				return
			}
		}
	}
	c.timer.Reset(next)
}

func (c *conn) maxFrameNow() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxFrame
}
