package h2srv

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

const (
	writeChunk = 16 << 10 // body bytes buffered before they go out without waiting for the handler
	maxInfo    = 8        // 1xx answers per stream
)

// runHandler serves one stream on its own goroutine, and writes the answer's end.
func (c *conn) runHandler(st *stream) {
	rw := &st.rw
	defer func() {
		if e := recover(); e != nil {
			if e != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.logf("http2: panic serving %v: %v\n%s", c.remote, e, buf)
			}
			rw.releaseBuf()
			rw.done = true
			c.resetStream(st, http2.ErrCodeInternal, false)
		}
	}()
	c.h.ServeHTTP(rw, st.req)
	rw.finish()
}

func (c *conn) logf(format string, args ...any) {
	if c.hs.ErrorLog != nil {
		c.hs.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// responseWriter is a stream's http.ResponseWriter. Only the handler's goroutines use it.
type responseWriter struct {
	st          *stream
	header      http.Header
	status      int
	wroteHeader bool
	headersSent bool
	flushed     bool // the handler flushed: no automatic Content-Length
	done        bool // the handler returned
	closeConn   bool // the handler said Connection: close
	infos       int
	written     int64
	declCL      int64
	trailers    []string // declared with the Trailer header
	buf         *[]byte
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ io.StringWriter     = (*responseWriter)(nil)
)

func (rw *responseWriter) Header() http.Header {
	if rw.header == nil {
		rw.header = http.Header{}
	}
	return rw.header
}

func (rw *responseWriter) WriteHeader(code int) {
	if rw.done || rw.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if rw.infos < maxInfo {
			rw.infos++
			rw.sendInfo(code)
		}
		return
	}
	rw.wroteHeader = true
	rw.status = code
	rw.declCL = -1
	if v := rw.header.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			rw.declCL = n
		} else {
			delete(rw.header, "Content-Length") // as net/http: a bad value is not sent
		}
	}
	for _, v := range rw.header["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(k)); k != "" && httpguts.ValidTrailerHeader(k) {
				rw.trailers = append(rw.trailers, k)
			}
		}
	}
}

func (rw *responseWriter) WriteString(s string) (int, error) {
	return rw.write(nil, s)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	return rw.write(p, "")
}

func (rw *responseWriter) write(p []byte, s string) (int, error) {
	if rw.done {
		return 0, errHandlerDone
	}
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	n := len(p) + len(s)
	if !bodyAllowed(rw.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if rw.declCL >= 0 && rw.written+int64(n) > rw.declCL {
		return 0, http.ErrContentLength
	}
	rw.written += int64(n)
	if rw.st.isHead {
		return n, nil
	}
	for len(p) > 0 || len(s) > 0 {
		if rw.buf == nil {
			rw.buf = bufPool.Get().(*[]byte)
		}
		b := *rw.buf
		room := writeChunk - len(b)
		if len(p) > 0 {
			k := min(room, len(p))
			b = append(b, p[:k]...)
			p = p[k:]
		} else {
			k := min(room, len(s))
			b = append(b, s[:k]...)
			s = s[k:]
		}
		*rw.buf = b
		if len(b) >= writeChunk {
			if err := rw.send(false); err != nil {
				return n - len(p) - len(s), err
			}
		}
	}
	return n, nil
}

func (rw *responseWriter) Flush() { _ = rw.FlushError() }

func (rw *responseWriter) FlushError() error {
	if rw.done {
		return errHandlerDone
	}
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	rw.flushed = true
	return rw.send(false)
}

// EnableFullDuplex is what http.ResponseController asks; HTTP/2 streams are always full duplex.
func (rw *responseWriter) EnableFullDuplex() error { return nil }

func (rw *responseWriter) releaseBuf() {
	if rw.buf != nil {
		*rw.buf = (*rw.buf)[:0]
		bufPool.Put(rw.buf)
		rw.buf = nil
	}
}

// finish ends the answer after the handler returned, and the request's rest.
func (rw *responseWriter) finish() {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	rw.done = true
	st, c := rw.st, rw.st.c
	_ = rw.send(true)
	rw.releaseBuf()
	st.cancel()
	c.removeStream(st)
	if rw.closeConn {
		c.goAwayGracefully()
	}
}

// send writes the headers if not yet sent and the buffered body as far as the flow-control
// windows allow, waiting for them for the rest; final also ends the stream (with trailers). What
// is ready goes out in one write.
func (rw *responseWriter) send(final bool) error {
	st, c := rw.st, rw.st.c
	var pending []byte
	if rw.buf != nil {
		pending = *rw.buf
	}
	defer func() {
		if rw.buf != nil {
			*rw.buf = (*rw.buf)[:0]
		}
	}()
	for {
		c.mu.Lock()
		if st.reset || c.closed {
			c.mu.Unlock()
			return errStreamReset
		}
		n := int64(len(pending))
		if n > 0 {
			n = max(0, min(n, st.sendWin, c.sendWin))
			st.sendWin -= n
			c.sendWin -= n
		}
		c.mu.Unlock()
		last := final && n == int64(len(pending))
		if err := rw.writeFrames(pending[:n], last, len(pending) == 0); err != nil {
			return err
		}
		pending = pending[n:]
		if len(pending) == 0 {
			return nil
		}
		c.mu.Lock()
		for !st.reset && !c.closed && (st.sendWin <= 0 || c.sendWin <= 0) {
			st.waitConn = c.sendWin <= 0
			st.cond.Wait()
		}
		st.waitConn = false
		c.mu.Unlock()
	}
}

// writeFrames appends HEADERS (if not sent), the DATA and, when last, the end of the stream, and
// writes them. noBody says the whole remaining body is empty.
func (rw *responseWriter) writeFrames(data []byte, last, noBody bool) error {
	st, c := rw.st, rw.st.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	reset := st.reset
	c.mu.Unlock()
	if reset {
		c.mu.Lock()
		c.sendWin += int64(len(data))
		c.mu.Unlock()
		return errStreamReset
	}
	trailers := last && rw.hasTrailers()
	ended := false
	if !rw.headersSent {
		end := last && noBody && !trailers
		rw.encodeHeaders(data, last)
		if rw.closeConn {
			// GOAWAY goes ahead of this answer, as x/net's server sends it: a client that reads the
			// answer has already been told to open no new stream here.
			c.goAwayAheadLocked()
		}
		c.appendHeaderBlock(st.id, end)
		rw.headersSent = true
		ended = end
		c.mu.Lock()
		st.answered = true
		c.mu.Unlock()
	}
	max := int(c.peerMaxFrame.Load())
	for len(data) > 0 || (last && !ended && !trailers) {
		k := min(len(data), max)
		var flags http2.Flags
		if last && !trailers && k == len(data) {
			flags = http2.FlagDataEndStream
			ended = true
		}
		c.appendFrame(http2.FrameData, flags, st.id, data[:k])
		data = data[k:]
	}
	if trailers {
		rw.encodeTrailers()
		c.appendHeaderBlock(st.id, true)
	}
	if last {
		// The answer is complete; a request still coming is not needed (RFC 9113 §8.1).
		c.mu.Lock()
		open := !st.remoteDone
		st.bodyClosed = true
		credit := int64(0)
		if len(st.body) > 0 {
			credit = c.creditConnLocked(int64(len(st.body)))
			st.body = nil
		}
		if open {
			st.reset = true
			if st.bodyErr == nil {
				st.bodyErr = errStreamReset
			}
			st.cond.Broadcast()
		}
		c.mu.Unlock()
		if credit > 0 {
			c.appendWindowUpdate(0, uint32(credit))
		}
		if open {
			c.appendRST(st.id, http2.ErrCodeNo)
		}
	}
	return c.flushLocked()
}

func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200 || status == http.StatusNoContent || status == http.StatusNotModified)
}

// isTrailer says whether a header key is sent as a trailer rather than a header.
func (rw *responseWriter) isTrailer(k string) bool {
	if strings.HasPrefix(k, http.TrailerPrefix) {
		return true
	}
	for _, t := range rw.trailers {
		if t == k {
			return true
		}
	}
	return false
}

func (rw *responseWriter) hasTrailers() bool {
	for _, k := range rw.trailers {
		if len(rw.header[k]) > 0 {
			return true
		}
	}
	for k, vv := range rw.header {
		if strings.HasPrefix(k, http.TrailerPrefix) && len(vv) > 0 {
			return true
		}
	}
	return false
}

// encodeHeaders puts the answer's header block in c.hbuf. first is the start of the body (for
// Content-Type sniffing); last says the whole body is in it (automatic Content-Length). Called with
// wmu held.
func (rw *responseWriter) encodeHeaders(first []byte, last bool) {
	c := rw.st.c
	c.field(":status", statusString(rw.status))
	h := rw.header
	for k, vv := range h {
		if rw.isTrailer(k) {
			continue
		}
		switch k {
		case "Connection":
			if len(vv) > 0 && strings.EqualFold(vv[0], "close") {
				rw.closeConn = true
			}
			continue
		case "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade":
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		name := lowerName(k)
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				c.field(name, v)
			}
		}
	}
	if _, ok := h["Date"]; !ok {
		c.field("date", c.date.get())
	}
	allowed := bodyAllowed(rw.status)
	if _, ok := h["Content-Type"]; !ok && allowed && len(first) > 0 {
		c.field("content-type", http.DetectContentType(first))
	}
	if _, ok := h["Content-Length"]; !ok && last && !rw.flushed && allowed && (rw.written > 0 || !rw.st.isHead) {
		c.field("content-length", c.contentLength(rw.written))
	}
}

// encodeTrailers puts the trailers' block in c.hbuf. Called with wmu held.
func (rw *responseWriter) encodeTrailers() {
	c := rw.st.c
	for k, vv := range rw.header {
		name := k
		if strings.HasPrefix(k, http.TrailerPrefix) {
			name = k[len(http.TrailerPrefix):]
		} else if !rw.isTrailer(k) {
			continue
		}
		if !httpguts.ValidTrailerHeader(name) {
			continue
		}
		name = strings.ToLower(name)
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				c.field(name, v)
			}
		}
	}
}

// sendInfo writes a 1xx answer with the headers set so far.
func (rw *responseWriter) sendInfo(code int) {
	c := rw.st.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	reset := rw.st.reset
	c.mu.Unlock()
	if reset {
		return
	}
	c.field(":status", statusString(code))
	for k, vv := range rw.header {
		if rw.isTrailer(k) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		name := lowerName(k)
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				c.field(name, v)
			}
		}
	}
	c.appendHeaderBlock(rw.st.id, false)
	_ = c.flushLocked()
}

// requestBody is a stream's request body as the handler reads it.
type requestBody struct{ st *stream }

func (b *requestBody) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	c.mu.Lock()
	if st.expect100 {
		st.expect100 = false
		if len(st.body) == 0 && !st.remoteDone && st.bodyErr == nil && !st.bodyClosed {
			c.mu.Unlock()
			st.rw.sendInfo(http.StatusContinue)
			c.mu.Lock()
		}
	}
	for len(st.body) == 0 && !st.remoteDone && st.bodyErr == nil && !st.bodyClosed {
		st.cond.Wait()
	}
	switch {
	case st.bodyClosed:
		c.mu.Unlock()
		return 0, errBodyClosed
	case len(st.body) > 0:
		n := copy(p, st.body)
		st.body = st.body[n:]
		if len(st.body) == 0 {
			st.body = nil
		}
		streamCredit := st.creditLocked(int64(n))
		connCredit := c.creditConnLocked(int64(n))
		c.mu.Unlock()
		c.sendCredit(st.id, connCredit, streamCredit)
		return n, nil
	case st.remoteDone:
		c.mu.Unlock()
		return 0, io.EOF
	default:
		err := st.bodyErr
		c.mu.Unlock()
		return 0, err
	}
}

func (b *requestBody) Close() error {
	st := b.st
	c := st.c
	c.mu.Lock()
	st.bodyClosed = true
	credit := st.dropBodyLocked()
	st.cond.Broadcast()
	c.mu.Unlock()
	c.sendCredit(0, credit, 0)
	return nil
}
