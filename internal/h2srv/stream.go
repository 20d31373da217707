package h2srv

import (
	"context"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// stream is one request and its answer; the request, its body and the ResponseWriter live in it,
// so a stream costs one allocation for them.
type stream struct {
	c    *conn
	id   uint32
	cond sync.Cond // on c.mu: body data, window, or the end

	cancel context.CancelFunc

	// Under c.mu.
	body       []byte // received and not yet read
	recvWin    int64  // how much more the client may send
	unacked    int64  // read by the handler, not yet returned with WINDOW_UPDATE
	remoteDone bool   // END_STREAM received
	bodyClosed bool   // the handler closed the body or returned
	bodyErr    error
	declCL     int64 // the request's Content-Length, -1 when none
	got        int64 // body bytes received
	sendWin    int64
	waitConn   bool // waiting for the connection window
	answered   bool // HEADERS sent (the reset budget counts resets before this)
	reset      bool // RST_STREAM sent or received: nothing more is written
	done       bool // removed from c.streams
	isHead     bool
	expect100  bool

	req *http.Request
	url url.URL
	rb  requestBody
	rw  responseWriter
}

// emit collects the decoded header fields of one block, within MaxHeaderBytes.
func (c *conn) emit(f hpack.HeaderField) {
	if c.truncated {
		return
	}
	c.listSize += int(f.Size())
	if c.listSize > c.s.maxHeaderBytes {
		c.truncated = true
		c.dec.SetEmitEnabled(false)
		return
	}
	if !validField(f) {
		c.badField = true
	}
	c.fields = append(c.fields, f)
}

func validField(f hpack.HeaderField) bool {
	if f.IsPseudo() {
		return httpguts.ValidHeaderFieldValue(f.Value)
	}
	if !httpguts.ValidHeaderFieldName(f.Name) || !httpguts.ValidHeaderFieldValue(f.Value) {
		return false
	}
	for i := 0; i < len(f.Name); i++ {
		if 'A' <= f.Name[i] && f.Name[i] <= 'Z' {
			return false
		}
	}
	return true
}

// readHeaderBlock decodes a HEADERS frame and its CONTINUATIONs into c.fields. The block's
// encoded size and its number of frames are bounded (CVE-2023-45288: an endless block closes the
// connection), the decoded list is cut at MaxHeaderBytes (c.truncated).
func (c *conn) readHeaderBlock(f *http2.HeadersFrame) error {
	c.fields = c.fields[:0]
	c.listSize, c.truncated, c.badField = 0, false, false
	c.dec.SetEmitEnabled(true)
	maxEncoded := 2*c.s.maxHeaderBytes + int(c.s.l.MaxReadFrameSize)
	maxFrames := 2 + 2*c.s.maxHeaderBytes/1024
	encoded := 0
	frag, ended := f.HeaderBlockFragment(), f.HeadersEnded()
	for frames := 1; ; frames++ {
		encoded += len(frag)
		if encoded > maxEncoded || frames > maxFrames {
			return connError{http2.ErrCodeProtocol, "header block too large"}
		}
		if _, err := c.dec.Write(frag); err != nil {
			return connError{http2.ErrCodeCompression, err.Error()}
		}
		if ended {
			break
		}
		next, err := c.fr.ReadFrame()
		if err != nil {
			return connError{http2.ErrCodeProtocol, "in a header block: " + err.Error()}
		}
		cf, ok := next.(*http2.ContinuationFrame)
		if !ok {
			return connError{http2.ErrCodeProtocol, "header block interrupted"}
		}
		c.framesRead.Add(1)
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := c.dec.Close(); err != nil {
		return connError{http2.ErrCodeCompression, err.Error()}
	}
	return nil
}

func (c *conn) onHeaders(f *http2.HeadersFrame) error {
	id := f.StreamID
	if err := c.readHeaderBlock(f); err != nil {
		return err
	}
	if id%2 == 0 {
		return connError{http2.ErrCodeProtocol, "even stream id from a client"}
	}
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		c.mu.Unlock()
		return c.onTrailers(st, f)
	}
	if id <= c.maxClientID {
		c.mu.Unlock()
		return connError{http2.ErrCodeProtocol, "HEADERS on a closed stream or a decreasing stream id"}
	}
	c.maxClientID = id
	if c.goingAway {
		c.mu.Unlock()
		return nil // after GOAWAY: not processed, the client retries elsewhere
	}
	if len(c.streams) >= int(c.s.l.MaxConcurrentStreams) {
		spent := c.spendLocked()
		c.mu.Unlock()
		c.writeRST(id, http2.ErrCodeRefusedStream)
		if spent {
			return c.overBudget()
		}
		return nil
	}
	c.mu.Unlock()
	if c.truncated {
		c.answerDirectly(id, http.StatusRequestHeaderFieldsTooLarge, !f.StreamEnded())
		return nil
	}
	st := &stream{c: c, id: id, declCL: -1}
	if c.badField || !c.buildRequest(st, f.StreamEnded()) {
		c.mu.Lock()
		spent := c.spendLocked()
		c.mu.Unlock()
		c.writeRST(id, http2.ErrCodeProtocol)
		if spent {
			return c.overBudget()
		}
		return nil
	}
	st.cond.L = &c.mu
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errConnClosed
	}
	st.recvWin = c.ourInitWin
	st.sendWin = c.peerInitWin
	st.remoteDone = f.StreamEnded()
	first := len(c.streams) == 0
	c.streams[id] = st
	c.idleSince = zeroTime
	c.mu.Unlock()
	if first && c.hs.ConnState != nil {
		c.hs.ConnState(c.tc, http.StateActive)
	}
	go c.runHandler(st)
	return nil
}

// answerDirectly answers a stream the server will not hand to the handler (its header list is over
// MaxHeaderBytes), and stops the rest of its request.
func (c *conn) answerDirectly(id uint32, code int, open bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.field(":status", statusString(code))
	c.appendHeaderBlock(id, true)
	if open {
		c.appendRST(id, http2.ErrCodeNo)
	}
	_ = c.flushLocked()
}

// buildRequest fills st.req from c.fields; false means a malformed request (RFC 9113 §8.1.1).
func (c *conn) buildRequest(st *stream, endStream bool) bool {
	ps, regular, ok := c.pseudoHeaders()
	if !ok {
		return false
	}
	h, ok := c.regularHeaders(regular)
	if !ok {
		return false
	}
	authority := ps.authority
	if authority == "" {
		authority = h.Get("Host")
	}
	var req http.Request // copied once by WithContext below
	r := &req
	r.Method = ps.method
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.Header = h
	r.Host = authority
	r.RemoteAddr = c.remote
	r.TLS = &c.cs
	r.URL = &st.url
	if ps.method == http.MethodConnect {
		st.url.Host = authority
		r.RequestURI = authority
	} else {
		r.RequestURI = ps.path
		if !parsePath(&st.url, ps.path) {
			return false
		}
	}
	if !st.requestBody(r, endStream) {
		return false
	}
	r.Trailer = announcedTrailers(h["Trailer"])
	st.isHead = ps.method == http.MethodHead
	st.expect100 = !endStream && strings.EqualFold(h.Get("Expect"), "100-continue")
	ctx, cancel := context.WithCancel(c.ctx)
	st.cancel = cancel
	st.req = r.WithContext(ctx)
	st.rw.st = st
	return true
}

// pseudo is a request's pseudo-header fields.
type pseudo struct{ method, scheme, path, authority string }

// pseudoHeaders reads the pseudo-header fields, which must come first, each at most once, and be
// the ones a request has; regular is the number of other fields.
func (c *conn) pseudoHeaders() (ps pseudo, regular int, ok bool) {
	for _, f := range c.fields {
		if !f.IsPseudo() {
			regular++
			continue
		}
		if regular > 0 {
			return ps, 0, false // a pseudo-header after a regular one
		}
		var dst *string
		switch f.Name {
		case ":method":
			dst = &ps.method
		case ":scheme":
			dst = &ps.scheme
		case ":path":
			dst = &ps.path
		case ":authority":
			dst = &ps.authority
		default:
			return ps, 0, false // unknown pseudo-header (:protocol: extended CONNECT is not offered)
		}
		if *dst != "" {
			return ps, 0, false
		}
		*dst = f.Value
	}
	switch {
	case ps.method == "":
		return ps, 0, false
	case ps.method == http.MethodConnect:
		return ps, regular, ps.path == "" && ps.scheme == "" && ps.authority != ""
	case ps.scheme == "" || ps.path == "":
		return ps, 0, false
	}
	return ps, regular, ps.path[0] == '/' || (ps.path == "*" && ps.method == http.MethodOptions)
}

// regularHeaders builds the request's header map from the regular fields, refusing the
// connection-specific ones HTTP/2 forbids (RFC 9113 §8.2.2) and joining cookies (§8.2.3).
func (c *conn) regularHeaders(regular int) (http.Header, bool) {
	h := make(http.Header, regular)
	vals := make([]string, regular)
	vi := 0
	var cookies []string
	for _, f := range c.fields {
		if f.IsPseudo() {
			continue
		}
		switch f.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return nil, false
		case "te":
			if f.Value != "trailers" {
				return nil, false
			}
		case "cookie":
			cookies = append(cookies, f.Value)
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(f.Name)
		vals[vi] = f.Value
		if old, ok := h[k]; ok {
			h[k] = append(old, f.Value)
		} else {
			h[k] = vals[vi : vi+1 : vi+1]
		}
		vi++
	}
	if len(cookies) > 0 {
		h["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	return h, true
}

// requestBody sets r's body and length from the declared Content-Length (every copy the same,
// digits only) and whether the HEADERS frame ended the stream.
func (st *stream) requestBody(r *http.Request, endStream bool) bool {
	if cl := r.Header["Content-Length"]; len(cl) > 0 {
		for _, v := range cl[1:] {
			if v != cl[0] {
				return false
			}
		}
		n, ok := digits(cl[0])
		if !ok {
			return false
		}
		st.declCL = n
	}
	if endStream {
		if st.declCL > 0 {
			return false
		}
		r.ContentLength = 0
		r.Body = http.NoBody
		return true
	}
	r.ContentLength = st.declCL
	st.rb.st = st
	r.Body = &st.rb
	return true
}

// digits parses a Content-Length: decimal digits only (no sign, no space), at most 18 of them.
func digits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// announcedTrailers is the request's Trailer map from its Trailer header fields: the names it will
// send after the body, with no values yet.
func announcedTrailers(vv []string) http.Header {
	var t http.Header
	for _, v := range vv {
		for _, k := range strings.Split(v, ",") {
			k = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(k))
			if k == "" {
				continue
			}
			if t == nil {
				t = http.Header{}
			}
			t[k] = nil
		}
	}
	return t
}

// parsePath sets u from a request's :path, without allocating for a plain path.
func parsePath(u *url.URL, path string) bool {
	p, q, hasQ := strings.Cut(path, "?")
	plain := true
	for i := 0; i < len(p); i++ {
		if b := p[i]; b <= ' ' || b == '%' || b == '#' || b >= 0x7f {
			plain = false
			break
		}
	}
	if plain && !strings.Contains(q, "#") {
		u.Path = p
		u.RawQuery = q
		u.ForceQuery = hasQ && q == ""
		return true
	}
	pu, err := url.ParseRequestURI(path)
	if err != nil {
		return false
	}
	*u = *pu
	return true
}

func (c *conn) onTrailers(st *stream, f *http2.HeadersFrame) error {
	if !f.StreamEnded() || c.truncated || c.badField {
		c.resetStream(st, http2.ErrCodeProtocol, false)
		return nil
	}
	for _, hf := range c.fields {
		if hf.IsPseudo() {
			c.resetStream(st, http2.ErrCodeProtocol, false)
			return nil
		}
	}
	c.mu.Lock()
	if st.remoteDone {
		c.mu.Unlock()
		c.resetStream(st, http2.ErrCodeStreamClosed, false)
		return nil
	}
	if st.declCL >= 0 && st.got != st.declCL {
		c.mu.Unlock()
		c.resetStream(st, http2.ErrCodeProtocol, false)
		return nil
	}
	if st.req.Trailer == nil {
		st.req.Trailer = http.Header{}
	}
	for _, hf := range c.fields {
		k := textproto.CanonicalMIMEHeaderKey(hf.Name)
		st.req.Trailer[k] = append(st.req.Trailer[k], hf.Value)
	}
	st.remoteDone = true
	st.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

func (c *conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	n := int64(f.Length)
	data := f.Data()
	c.mu.Lock()
	if n > c.recvWin {
		c.mu.Unlock()
		return connError{http2.ErrCodeFlowControl, "DATA beyond the connection window"}
	}
	c.recvWin -= n
	st := c.streams[id]
	if st == nil || st.remoteDone {
		idle := st == nil && id > c.maxClientID
		credit := c.creditConnLocked(n)
		c.mu.Unlock()
		if idle {
			return connError{http2.ErrCodeProtocol, "DATA on an idle stream"}
		}
		if st != nil { // DATA after the client's END_STREAM (RFC 9113 §5.1, half-closed remote)
			c.sendCredit(0, credit, 0)
			c.resetStream(st, http2.ErrCodeStreamClosed, false)
			return nil
		}
		c.wmu.Lock()
		if credit > 0 {
			c.appendWindowUpdate(0, uint32(credit))
		}
		c.appendRST(id, http2.ErrCodeStreamClosed)
		err := c.flushLocked()
		c.wmu.Unlock()
		return err
	}
	if n > st.recvWin {
		credit := c.creditConnLocked(n)
		c.mu.Unlock()
		c.sendCredit(0, credit, 0)
		c.resetStream(st, http2.ErrCodeFlowControl, false)
		return nil
	}
	st.recvWin -= n
	st.got += int64(len(data))
	if st.declCL >= 0 && (st.got > st.declCL || f.StreamEnded() && st.got != st.declCL) {
		c.mu.Unlock()
		c.resetStream(st, http2.ErrCodeProtocol, false)
		return nil
	}
	var connCredit, streamCredit int64
	if st.bodyClosed {
		connCredit = c.creditConnLocked(n)
	} else {
		st.body = append(st.body, data...)
		if pad := n - int64(len(data)); pad > 0 {
			connCredit = c.creditConnLocked(pad)
			streamCredit = st.creditLocked(pad)
		}
	}
	if f.StreamEnded() {
		st.remoteDone = true
		streamCredit = 0
	}
	st.cond.Broadcast()
	c.mu.Unlock()
	c.sendCredit(id, connCredit, streamCredit)
	return nil
}

// creditConnLocked counts n bytes consumed on the connection and returns the WINDOW_UPDATE
// increment to send now (0: not yet; updates go out once half the window is consumed).
func (c *conn) creditConnLocked(n int64) int64 {
	c.connUnacked += n
	if c.connUnacked < int64(c.s.l.MaxUploadBufferPerConnection)/2 {
		return 0
	}
	inc := c.connUnacked
	c.connUnacked = 0
	c.recvWin += inc
	return inc
}

func (st *stream) creditLocked(n int64) int64 {
	st.unacked += n
	if st.remoteDone || st.unacked < int64(st.c.s.l.MaxUploadBufferPerStream)/2 {
		return 0
	}
	inc := st.unacked
	st.unacked = 0
	st.recvWin += inc
	return inc
}

// sendCredit writes WINDOW_UPDATEs for the connection and a stream.
func (c *conn) sendCredit(id uint32, conn, stream int64) {
	if conn == 0 && stream == 0 {
		return
	}
	c.wmu.Lock()
	if conn > 0 {
		c.appendWindowUpdate(0, uint32(conn))
	}
	if stream > 0 {
		c.appendWindowUpdate(id, uint32(stream))
	}
	_ = c.flushLocked()
	c.wmu.Unlock()
}

// resetStream ends a stream: its handler's context is cancelled, its waits end, and unless the
// client reset it, RST_STREAM with code is sent.
func (c *conn) resetStream(st *stream, code http2.ErrCode, byClient bool) {
	c.mu.Lock()
	if st.reset {
		c.mu.Unlock()
		c.removeStream(st)
		return
	}
	st.reset = true
	if st.bodyErr == nil {
		st.bodyErr = errStreamReset
	}
	credit := st.dropBodyLocked()
	st.cond.Broadcast()
	c.mu.Unlock()
	st.cancel()
	if !byClient || credit > 0 {
		c.wmu.Lock()
		if credit > 0 {
			c.appendWindowUpdate(0, uint32(credit))
		}
		if !byClient {
			c.appendRST(st.id, code)
		}
		_ = c.flushLocked()
		c.wmu.Unlock()
	}
	c.removeStream(st)
}

// removeStream forgets a finished stream; the last one of a connection going away closes it.
func (c *conn) removeStream(st *stream) {
	c.mu.Lock()
	if st.done {
		c.mu.Unlock()
		return
	}
	st.done = true
	delete(c.streams, st.id)
	idle := len(c.streams) == 0
	if idle {
		c.idleSince = now()
	}
	closeNow := idle && c.goingAway && !c.closed
	closed := c.closed
	c.mu.Unlock()
	if idle && !closed && c.hs.ConnState != nil {
		c.hs.ConnState(c.tc, http.StateIdle)
	}
	if closeNow {
		c.closeGracefully()
	}
}

var zeroTime time.Time

func now() time.Time { return time.Now() }

// dropBodyLocked discards the request body bytes nobody will read and returns the connection window
// they free, for the caller to send as WINDOW_UPDATE once c.mu is released. Called with c.mu held.
func (st *stream) dropBodyLocked() int64 {
	if len(st.body) == 0 {
		return 0
	}
	credit := st.c.creditConnLocked(int64(len(st.body)))
	st.body = nil
	return credit
}
