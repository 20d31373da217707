package h2cli

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/net/http2"
)

// readLoop reads every frame of the connection, until it fails.
func (c *conn) readLoop() {
	defer close(c.readDone)
	defer c.flushWakes()
	for {
		if len(c.wakes) > 0 && !c.frameBuffered() {
			c.flushWakes()
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.resetStream(se.StreamID, se.Code, "malformed frame: "+se.Error())
				continue
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				reason := "malformed frame"
				if d := c.fr.ErrorDetail(); d != nil {
					reason = d.Error()
				} else if http2.ErrCode(ce) == codeProtocol {
					reason = "malformed frame, or a header block past the limit"
				}
				c.fail(&protocolError{code: http2.ErrCode(ce), reason: reason})
				return
			}
			c.closeWith(&ConnError{Reason: "reading from the server", Err: err})
			return
		}
		c.readSeen.Store(true)
		if !c.gotSettings {
			sf, ok := f.(*http2.SettingsFrame)
			if !ok || sf.IsAck() {
				c.fail(&protocolError{code: codeProtocol, reason: fmt.Sprintf("first frame %v, not SETTINGS", f.Header().Type)})
				return
			}
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			err = c.onSettings(f)
		case *http2.HeadersFrame:
			err = c.startBlock(f)
		case *http2.ContinuationFrame:
			err = c.blockFragment(f.HeaderBlockFragment(), f.HeadersEnded())
		case *http2.DataFrame:
			err = c.onData(f)
		case *http2.RSTStreamFrame:
			c.onReset(f)
		case *http2.WindowUpdateFrame:
			err = c.onWindowUpdate(f)
		case *http2.PingFrame:
			err = c.onPing(f)
		case *http2.GoAwayFrame:
			c.onGoAway(f)
		case *http2.PushPromiseFrame:
			err = &protocolError{code: codeProtocol, reason: "PUSH_PROMISE, though push is disabled"}
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// fail ends the connection for a protocol error of the server's: GOAWAY with the code, then close.
func (c *conn) fail(err error) {
	code := codeProtocol
	var pe *protocolError
	if errors.As(err, &pe) {
		code = pe.code
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		c.wmu.Lock()
		c.tc.SetWriteDeadline(time.Now().Add(time.Second))
		c.fr.WriteGoAway(0, code, nil)
		c.bw.Flush()
		c.wmu.Unlock()
	}
	c.closeWith(&ConnError{Reason: "closed", Err: err})
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	tableSize := int64(-1)
	c.mu.Lock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return &protocolError{code: http2.ErrCode(err.(http2.ConnectionError)), reason: "SETTINGS: " + err.Error()}
		}
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.maxStreams = min(s.Val, maxStreamsCap)
		case http2.SettingMaxFrameSize:
			c.maxFrame = s.Val
		case http2.SettingHeaderTableSize:
			tableSize = int64(s.Val)
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peerInitWindow)
			c.peerInitWindow = int32(s.Val)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > 1<<31-1 {
					return &protocolError{code: codeFlow, reason: "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream's window"}
				}
			}
			c.sendCond.Broadcast()
		}
		return nil
	})
	first := !c.gotSettings
	c.gotSettings = true
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.wmu.Lock()
	if tableSize >= 0 {
		c.henc.SetMaxDynamicTableSizeLimit(uint32(min(tableSize, 4096)))
	}
	err = c.fr.WriteSettingsAck()
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if first {
		close(c.settingsc)
	}
	if err != nil {
		return &ConnError{Reason: "writing the SETTINGS ack", Err: err}
	}
	return nil
}

// known says whether a stream id not in the map is one the client opened (and has since ended): frames
// for it are dropped. Anything else is the server naming a stream that never existed.
func (c *conn) knownLocked(id uint32) bool { return id%2 == 1 && id < c.nextID }

func (c *conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	n := int32(f.Length)
	data := f.Data()
	c.mu.Lock()
	if n > c.recvWindow {
		c.mu.Unlock()
		return &protocolError{code: codeFlow, reason: fmt.Sprintf("DATA of %d bytes beyond the connection window (%d left)", n, c.recvWindow)}
	}
	c.recvWindow -= n
	s := c.streams[id]
	if s == nil || !s.headersDone || s.respDone {
		known := c.knownLocked(id)
		inc := c.creditLocked(int(n))
		c.mu.Unlock()
		if !known {
			return &protocolError{code: codeProtocol, reason: fmt.Sprintf("DATA on stream %d, which the client never opened", id)}
		}
		if s != nil {
			c.resetStream(id, http2.ErrCodeStreamClosed, "DATA before the response header or after its end")
		}
		if inc > 0 {
			c.writeWindowUpdates(0, inc, 0)
		}
		return nil
	}
	if n > s.recvWindow {
		c.mu.Unlock()
		return &protocolError{code: codeFlow, reason: fmt.Sprintf("DATA of %d bytes beyond stream %d's window (%d left)", n, id, s.recvWindow)}
	}
	s.recvWindow -= n
	if s.declared >= 0 && s.got+int64(len(data)) > s.declared {
		inc := c.creditLocked(int(n))
		c.mu.Unlock()
		c.resetStream(id, codeProtocol, fmt.Sprintf("response body longer than its Content-Length %d", s.declared))
		if inc > 0 {
			c.writeWindowUpdates(0, inc, 0)
		}
		return nil
	}
	s.got += int64(len(data))
	if len(data) > 0 && !s.bodyClosed {
		s.buf.write(data)
		c.wake(s, false)
	}
	pad := int(n) - len(data)
	if s.bodyClosed {
		pad = int(n)
	}
	inc := c.creditLocked(pad)
	if f.StreamEnded() {
		s.endResponseLocked()
	}
	c.mu.Unlock()
	if inc > 0 {
		c.writeWindowUpdates(0, inc, 0)
	}
	return nil
}

// resetStream fails a stream for the server's error on it and tells the server.
func (c *conn) resetStream(id uint32, code http2.ErrCode, reason string) {
	c.mu.Lock()
	s := c.streams[id]
	rst := false
	if s != nil {
		rst = s.abortLocked(&StreamError{Code: code, Reason: reason})
	}
	c.mu.Unlock()
	if rst || s == nil {
		c.writeRST(id, code)
	}
}

func (c *conn) onReset(f *http2.RSTStreamFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[f.StreamID]
	if s == nil {
		return
	}
	var err error = &StreamError{Code: f.ErrCode, Remote: true}
	if f.ErrCode == http2.ErrCodeRefusedStream && !s.headersDone {
		err = &notSentError{err}
	}
	if f.ErrCode == http2.ErrCodeNo && s.respDone {
		// The whole response came; the server does not want the rest of the request.
		s.sendDone = true
		s.dead = true
		s.c.sendCond.Broadcast()
		s.finishLocked()
		return
	}
	s.abortLocked(err)
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		if inc == 0 {
			return &protocolError{code: codeProtocol, reason: "WINDOW_UPDATE of 0 on the connection"}
		}
		c.sendWindow += inc
		if c.sendWindow > 1<<31-1 {
			return &protocolError{code: codeFlow, reason: "WINDOW_UPDATE overflows the connection window"}
		}
		c.sendCond.Broadcast()
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		return nil
	}
	s.sendWindow += inc
	if inc == 0 || s.sendWindow > 1<<31-1 {
		err := &StreamError{Code: codeFlow, Reason: "WINDOW_UPDATE of 0 or beyond 2^31-1"}
		if s.abortLocked(err) {
			go c.writeRST(s.id, codeFlow)
		}
	}
	c.sendCond.Broadcast()
	return nil
}

func (c *conn) onPing(f *http2.PingFrame) error {
	if f.IsAck() {
		c.mu.Lock()
		var b [8]byte
		for i := range b {
			b[i] = byte(c.pingData >> (8 * i))
		}
		if f.Data == b {
			c.pingSent = time.Time{}
		}
		c.mu.Unlock()
		return nil
	}
	c.wmu.Lock()
	err := c.fr.WritePing(true, f.Data)
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		return &ConnError{Reason: "answering a PING", Err: err}
	}
	return nil
}

// onGoAway stops new streams on the connection; streams the server never saw fail as not sent (so
// RoundTrip may send them again on another connection), the others run to their end.
func (c *conn) onGoAway(f *http2.GoAwayFrame) {
	c.mu.Lock()
	c.goAway = true
	err := &notSentError{fmt.Errorf("server sent GOAWAY (%v) before processing the stream", f.ErrCode)}
	for id, s := range c.streams {
		if id > f.LastStreamID {
			s.abortLocked(err)
		}
	}
	idle := len(c.streams) == 0
	c.mu.Unlock()
	c.t.remove(c)
	if idle {
		c.closeWith(&ConnError{Reason: fmt.Sprintf("server sent GOAWAY (%v)", f.ErrCode)})
	}
}

// wakeup is a caller to wake once the frames already read are handled: a response's HEADERS and DATA
// that arrived together reach the caller in one hand-off, not two.
type wakeup struct {
	s       *stream
	headers bool
}

// wake wakes a stream's caller (for its response header) or body reader, after the frames already
// buffered; reader goroutine only.
func (c *conn) wake(s *stream, headers bool) {
	for _, w := range c.wakes {
		if w.s == s && w.headers == headers {
			return
		}
	}
	c.wakes = append(c.wakes, wakeup{s, headers})
}

func (c *conn) flushWakes() {
	for i, w := range c.wakes {
		if w.headers {
			close(w.s.headersc)
		} else {
			w.s.cond.Broadcast()
		}
		c.wakes[i] = wakeup{}
	}
	c.wakes = c.wakes[:0]
}

// frameBuffered says whether a whole frame is already read from the socket, so handling it costs no wait.
func (c *conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 9 {
		return false
	}
	h, _ := c.br.Peek(9)
	return n >= 9+(int(h[0])<<16|int(h[1])<<8|int(h[2]))
}
