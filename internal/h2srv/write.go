package h2srv

import (
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// bufPool holds the connections' output buffers between flushes, so an idle connection holds none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooledBuf = 64 << 10

// buf is the pending output, taken from the pool on first use. Called with wmu held.
func (c *conn) buf() *[]byte {
	if c.wb == nil {
		c.wb = bufPool.Get().(*[]byte)
	}
	return c.wb
}

func (c *conn) releaseBuf() {
	if c.wb == nil {
		return
	}
	if cap(*c.wb) <= maxPooledBuf {
		*c.wb = (*c.wb)[:0]
		bufPool.Put(c.wb)
	}
	c.wb = nil
}

// maxPending bounds the output that waits while another goroutine writes; past it, writers wait
// (a client that stops reading stops the server's handlers and its reader, not its memory).
const maxPending = 128 << 10

// flushLocked sees that the pending output is written. The first goroutine to flush becomes the
// writer: it writes outside wmu (others keep appending meanwhile) and goes on until nothing is
// pending, so output that piles up while a write is in flight goes out coalesced in the next one;
// the others return at once unless too much is pending. Each write has the WriteByteTimeout as its
// deadline. Called with wmu held; wmu may be released and taken again inside.
func (c *conn) flushLocked() error {
	if c.werr != nil {
		c.releaseBuf()
		return c.werr
	}
	if c.writing {
		for c.writing && c.werr == nil && c.wb != nil && len(*c.wb) > maxPending {
			c.wcond.Wait()
		}
		return c.werr
	}
	c.writing = true
	for rounds := 0; c.werr == nil && c.wb != nil && len(*c.wb) > 0; rounds++ {
		if rounds == maxWriteRounds {
			// Under steady load output keeps coming: hand the writer's role to a goroutine of its
			// own rather than hold this caller (a handler, or the frame reader) writing for others.
			go c.keepWriting()
			return nil
		}
		b := c.wb
		c.wb = nil
		c.wcond.Broadcast() // writers waiting on a full buffer may append again while this one writes
		c.wmu.Unlock()
		if c.s.l.WriteByteTimeout > 0 {
			_ = c.tc.SetWriteDeadline(time.Now().Add(c.s.l.WriteByteTimeout))
		}
		_, err := c.tc.Write(*b)
		if cap(*b) <= maxPooledBuf {
			*b = (*b)[:0]
			bufPool.Put(b)
		}
		c.wmu.Lock()
		if err != nil && c.werr == nil {
			c.werr = err
			_ = c.tc.Close() // a peer that stopped reading, or a dead one: the reader ends the connection
		}
		c.wcond.Broadcast()
	}
	c.writing = false
	c.releaseBuf()
	c.wcond.Broadcast()
	return c.werr
}

// maxWriteRounds is how many writes one flushing caller makes for output others appended while it
// wrote, before the role passes to a goroutine of its own.
const maxWriteRounds = 4

// handoffs counts keepWriting's takeovers (TestTheWriterRoleIsHandedOnAfterAFewRounds reads it).
var handoffs atomic.Int64

// keepWriting takes over the writer's role from a caller that wrote maxWriteRounds times.
func (c *conn) keepWriting() {
	handoffs.Add(1)
	c.wmu.Lock()
	c.writing = false
	_ = c.flushLocked()
	c.wcond.Broadcast() // drainLocked waits for writing to end, also when the connection failed
	c.wmu.Unlock()
}

// drainLocked waits until everything pending is written. Called with wmu held.
func (c *conn) drainLocked() {
	for c.werr == nil && (c.writing || c.wb != nil && len(*c.wb) > 0) {
		if c.writing {
			c.wcond.Wait()
			continue
		}
		_ = c.flushLocked()
	}
}

// appendFrame adds one frame to the pending output. Called with wmu held.
func (c *conn) appendFrame(t http2.FrameType, flags http2.Flags, stream uint32, payload []byte) {
	b := c.buf()
	n := len(payload)
	*b = append(*b, byte(n>>16), byte(n>>8), byte(n), byte(t), byte(flags),
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
	*b = append(*b, payload...)
}

func (c *conn) appendWindowUpdate(stream uint32, inc uint32) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], inc&0x7fffffff)
	c.appendFrame(http2.FrameWindowUpdate, 0, stream, p[:])
}

func (c *conn) appendRST(stream uint32, code http2.ErrCode) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(code))
	c.appendFrame(http2.FrameRSTStream, 0, stream, p[:])
}

func (c *conn) appendGoAway(last uint32, code http2.ErrCode, debug string) {
	p := make([]byte, 8, 8+len(debug))
	binary.BigEndian.PutUint32(p, last&0x7fffffff)
	binary.BigEndian.PutUint32(p[4:], uint32(code))
	c.appendFrame(http2.FrameGoAway, 0, 0, append(p, debug...))
}

func (c *conn) writeRST(stream uint32, code http2.ErrCode) {
	c.wmu.Lock()
	c.appendRST(stream, code)
	_ = c.flushLocked()
	c.wmu.Unlock()
}

// writeServerPreface sends the server's SETTINGS and opens the connection window to its size.
func (c *conn) writeServerPreface() {
	l := c.s.l
	settings := []http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: l.MaxConcurrentStreams},
		{ID: http2.SettingMaxFrameSize, Val: l.MaxReadFrameSize},
		{ID: http2.SettingInitialWindowSize, Val: uint32(l.MaxUploadBufferPerStream)},
		{ID: http2.SettingMaxHeaderListSize, Val: uint32(c.s.maxHeaderBytes)},
		{ID: http2.SettingHeaderTableSize, Val: l.MaxHeaderTableSize},
	}
	p := make([]byte, 0, 6*len(settings))
	for _, s := range settings {
		p = binary.BigEndian.AppendUint16(p, uint16(s.ID))
		p = binary.BigEndian.AppendUint32(p, s.Val)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.appendFrame(http2.FrameSettings, 0, 0, p)
	if d := int64(l.MaxUploadBufferPerConnection) - initialWindow; d > 0 {
		c.appendWindowUpdate(0, uint32(d))
		c.mu.Lock()
		c.recvWin += d
		c.mu.Unlock()
	}
	_ = c.flushLocked()
}

// appendHeaderBlock sends the HPACK block in c.hbuf as HEADERS and CONTINUATION frames. Called
// with wmu held.
func (c *conn) appendHeaderBlock(stream uint32, endStream bool) {
	block := c.hbuf.Bytes()
	max := int(c.peerMaxFrame.Load())
	first := true
	for first || len(block) > 0 {
		n := min(len(block), max)
		var flags http2.Flags
		if n == len(block) {
			flags |= http2.FlagHeadersEndHeaders
		}
		t := http2.FrameContinuation
		if first {
			t = http2.FrameHeaders
			if endStream {
				flags |= http2.FlagHeadersEndStream
			}
		}
		c.appendFrame(t, flags, stream, block[:n])
		block = block[n:]
		first = false
	}
	c.hbuf.Reset()
}

// field encodes one header field. Called with wmu held.
func (c *conn) field(name, value string) {
	_ = c.enc.WriteField(hpack.HeaderField{Name: name, Value: value})
}

// contentLength is n as text, reusing the last one (most answers of a connection have one size).
func (c *conn) contentLength(n int64) string {
	if n != c.clN || c.clS == "" {
		c.clN, c.clS = n, strconv.FormatInt(n, 10)
	}
	return c.clS
}

var statusText [600]string

func init() {
	for i := 100; i < len(statusText); i++ {
		statusText[i] = strconv.Itoa(i)
	}
}

func statusString(code int) string {
	if code >= 100 && code < len(statusText) {
		return statusText[code]
	}
	return strconv.Itoa(code)
}

// dateCache is the Date header's text, made once a second.
type dateCache struct{}

var dateNow atomic.Pointer[dateValue]

type dateValue struct {
	sec  int64
	text string
}

func (dateCache) get() string {
	now := time.Now()
	if d := dateNow.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &dateValue{sec: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	dateNow.Store(d)
	return d.text
}

// lowerName is an HTTP/2 header name (lower case) for a canonical Go one.
func lowerName(k string) string {
	if v, ok := commonLower[k]; ok {
		return v
	}
	return strings.ToLower(k)
}

var commonLower = map[string]string{}

func init() {
	for _, k := range []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Age", "Access-Control-Allow-Origin", "Allow", "Authorization", "Cache-Control", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-Range",
		"Content-Type", "Cookie", "Date", "Etag", "Expect", "Expires", "From", "Host", "If-Match",
		"If-Modified-Since", "If-None-Match", "If-Unmodified-Since", "Last-Modified", "Link", "Location",
		"Max-Forwards", "Proxy-Authenticate", "Proxy-Authorization", "Range", "Referer", "Refresh",
		"Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security", "Trailer", "User-Agent", "Vary",
		"Via", "Www-Authenticate", "X-Content-Type-Options", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Request-Id", "X-Envoy-Upstream-Service-Time", "X-Egret-Decision", "Grpc-Status", "Grpc-Message"} {
		commonLower[k] = strings.ToLower(k)
	}
}
