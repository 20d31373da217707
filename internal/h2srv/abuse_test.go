package h2srv_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"egret.dev/egret/internal/h2limit"
	"egret.dev/egret/internal/meshtest"
)

func ok(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

// Protocol violations by a mesh client: each ends the connection with GOAWAY and the right code,
// and the server goes on serving others.
func TestProtocolViolationsEndTheConnectionWithGoAway(t *testing.T) {
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done() // never reads the body
		}
	}), nil)
	cases := []struct {
		name string
		code http2.ErrCode
		send func(r *raw)
	}{
		{"DATA on stream 0", http2.ErrCodeProtocol, func(r *raw) {
			writeRawFrame(r, http2.FrameData, 0, 0, []byte("x"))
		}},
		{"HEADERS on stream 0", http2.ErrCodeProtocol, func(r *raw) {
			writeRawFrame(r, http2.FrameHeaders, http2.FlagHeadersEndHeaders, 0, r.headerBlock(getFields...))
		}},
		{"RST_STREAM on stream 0", http2.ErrCodeProtocol, func(r *raw) {
			writeRawFrame(r, http2.FrameRSTStream, 0, 0, []byte{0, 0, 0, 8})
		}},
		{"an even stream id", http2.ErrCodeProtocol, func(r *raw) { r.request(2, true) }},
		{"a decreasing stream id", http2.ErrCodeProtocol, func(r *raw) {
			r.request(5, true)
			r.request(3, true)
		}},
		{"DATA on an idle stream", http2.ErrCodeProtocol, func(r *raw) {
			_ = r.do(func(fr *http2.Framer) error { return fr.WriteData(7, true, []byte("x")) })
		}},
		{"PUSH_PROMISE from a client", http2.ErrCodeProtocol, func(r *raw) {
			r.request(1, false)
			_ = r.do(func(fr *http2.Framer) error {
				return fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: r.headerBlock(getFields...), EndHeaders: true})
			})
		}},
		{"a connection window over 2^31-1", http2.ErrCodeFlowControl, func(r *raw) {
			_ = r.do(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 1<<31-1) })
		}},
		{"a SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1", http2.ErrCodeFlowControl, func(r *raw) {
			writeRawFrame(r, http2.FrameSettings, 0, 0, []byte{0, 4, 0x80, 0, 0, 0})
		}},
		{"CONTINUATION without HEADERS", http2.ErrCodeProtocol, func(r *raw) {
			writeRawFrame(r, http2.FrameContinuation, http2.FlagContinuationEndHeaders, 1, nil)
		}},
		{"DATA beyond the connection window", http2.ErrCodeFlowControl, func(r *raw) {
			// 20 streams each filling its 256 KiB window: 5 MiB, over the 4 MiB connection window;
			// the handler never reads.
			chunk := make([]byte, 16384)
			for id := uint32(1); id < 40; id += 2 {
				r.request(id, false, ":method", "POST", ":scheme", "https", ":authority", "a", ":path", "/slow")
				for range 16 {
					if r.do(func(fr *http2.Framer) error { return fr.WriteData(id, false, chunk) }) != nil {
						return
					}
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.dialRaw(t)
			c.send(r)
			g := r.goAway()
			if g == nil {
				t.Fatalf("the connection ended without GOAWAY: %v", <-r.ended)
			}
			if g.ErrCode != c.code {
				t.Errorf("GOAWAY %v, want %v", g.ErrCode, c.code)
			}
			if !r.waitEnd() {
				t.Error("the connection stayed open after GOAWAY")
			}
		})
	}
	if resp, err := s.client(t).Get("https://www.google.com/"); err != nil || resp.StatusCode != 200 {
		t.Errorf("a well-behaved client after the attacks: %v", err)
	}
}

func writeRawFrame(r *raw, t http2.FrameType, flags http2.Flags, stream uint32, payload []byte) {
	_ = r.do(func(fr *http2.Framer) error { return fr.WriteRawFrame(t, flags, stream, payload) })
}

// Malformed requests (RFC 9113 §8.1.1, §8.2) are refused with RST_STREAM PROTOCOL_ERROR; the
// connection stays.
func TestMalformedRequestsAreRefused(t *testing.T) {
	s := startServer(t, http.HandlerFunc(ok), nil)
	cases := []struct {
		name   string
		fields []string
	}{
		{"no :path", []string{":method", "GET", ":scheme", "https", ":authority", "a"}},
		{"no :method", []string{":scheme", "https", ":authority", "a", ":path", "/"}},
		{"CONNECT with :path", []string{":method", "CONNECT", ":authority", "a:443", ":path", "/"}},
		{"CONNECT without :authority", []string{":method", "CONNECT"}},
		{"an unknown pseudo-header", []string{":method", "GET", ":scheme", "https", ":path", "/", ":protocol", "websocket"}},
		{"a pseudo-header after a regular one", []string{":method", "GET", ":scheme", "https", "x", "1", ":path", "/"}},
		{"an upper-case name", []string{":method", "GET", ":scheme", "https", ":path", "/", "X-Upper", "1"}},
		{"connection", []string{":method", "GET", ":scheme", "https", ":path", "/", "connection", "close"}},
		{"keep-alive", []string{":method", "GET", ":scheme", "https", ":path", "/", "keep-alive", "1"}},
		{"transfer-encoding", []string{":method", "GET", ":scheme", "https", ":path", "/", "transfer-encoding", "chunked"}},
		{"upgrade", []string{":method", "GET", ":scheme", "https", ":path", "/", "upgrade", "h2c"}},
		{"te other than trailers", []string{":method", "GET", ":scheme", "https", ":path", "/", "te", "gzip"}},
		{"a duplicated :path", []string{":method", "GET", ":scheme", "https", ":path", "/", ":path", "/x"}},
		{"a content-length with no body", []string{":method", "POST", ":scheme", "https", ":path", "/", "content-length", "5"}},
		{"a signed content-length", []string{":method", "POST", ":scheme", "https", ":path", "/", "content-length", "+0"}},
		{"a content-length with a space", []string{":method", "POST", ":scheme", "https", ":path", "/", "content-length", " 0"}},
		{"two different content-lengths", []string{":method", "POST", ":scheme", "https", ":path", "/", "content-length", "0", "content-length", "00"}},
	}
	r := s.dialRaw(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := uint32(1 + 2*i)
			r.request(id, true, c.fields...)
			rs := r.rst(id)
			if rs == nil {
				t.Fatalf("the connection ended: %v", <-r.ended)
			}
			if rs.ErrCode != http2.ErrCodeProtocol {
				t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", rs.ErrCode)
			}
		})
	}
	id := uint32(1 + 2*len(cases))
	r.request(id, true)
	if st := r.status(id); st != "200" {
		t.Errorf("a good request on the same connection: %q", st)
	}
}

// More DATA than the declared content-length, and a stream window overrun, reset that stream.
func TestBodyViolationsResetTheStream(t *testing.T) {
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		_, _ = io.Copy(io.Discard, r.Body)
	}), func(l *h2limit.Limits, _ *http.Server) { l.MaxUploadBufferPerStream = 16384 })
	r := s.dialRaw(t)
	time.Sleep(100 * time.Millisecond) // our SETTINGS ack reaches the server: the 16 KiB window counts
	r.request(1, false, ":method", "POST", ":scheme", "https", ":path", "/", "content-length", "3")
	_ = r.do(func(fr *http2.Framer) error { return fr.WriteData(1, true, []byte("toolong")) })
	if rs := r.rst(1); rs == nil || rs.ErrCode != http2.ErrCodeProtocol {
		t.Errorf("DATA over content-length: %v, want RST_STREAM PROTOCOL_ERROR", rs)
	}
	r.request(3, false, ":method", "POST", ":scheme", "https", ":path", "/")
	_ = r.do(func(fr *http2.Framer) error { return fr.WriteData(3, false, make([]byte, 16384)) })
	_ = r.do(func(fr *http2.Framer) error { return fr.WriteData(3, false, []byte("over")) })
	if rs := r.rst(3); rs == nil || rs.ErrCode != http2.ErrCodeFlowControl {
		t.Errorf("DATA over the stream window: %v, want RST_STREAM FLOW_CONTROL_ERROR", rs)
	}
	r2 := s.dialRaw(t)
	r2.request(1, false, ":method", "POST", ":scheme", "https", ":path", "/")
	_ = r2.do(func(fr *http2.Framer) error { return fr.WriteWindowUpdate(1, 1<<31-1) })
	if rs := r2.rst(1); rs == nil || rs.ErrCode != http2.ErrCodeFlowControl {
		t.Errorf("a stream window over 2^31-1: %v, want RST_STREAM FLOW_CONTROL_ERROR", rs)
	}
}

// CVE-2023-45288: a header block that never ends (empty CONTINUATIONs, or big ones) closes the
// connection after a bounded amount, and a header list over MaxHeaderBytes gets 431.
func TestEndlessOrOversizedHeaderBlocksAreBounded(t *testing.T) {
	s := startServer(t, http.HandlerFunc(ok), nil) // MaxHeaderBytes 16 KiB
	for _, c := range []struct {
		name string
		frag []byte
	}{
		{"empty CONTINUATIONs", nil},
		{"16 KiB CONTINUATIONs", bytes.Repeat([]byte{0x40, 0x01, 'x', 0x7f, 0x7f}, 3200)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.dialRaw(t)
			block := r.headerBlock(getFields...)
			_ = r.do(func(fr *http2.Framer) error {
				return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block})
			})
			sent := 0
			for ; sent < 100000; sent++ {
				if r.do(func(fr *http2.Framer) error { return fr.WriteContinuation(1, false, c.frag) }) != nil {
					break
				}
			}
			g := r.goAway()
			if g == nil || g.ErrCode != http2.ErrCodeProtocol && g.ErrCode != http2.ErrCodeCompression {
				t.Errorf("GOAWAY %v, want PROTOCOL_ERROR or COMPRESSION_ERROR", g)
			}
			if !r.waitEnd() {
				t.Error("the connection stayed open")
			}
			t.Logf("%d CONTINUATION frames written before the server closed", sent)
		})
	}
	t.Run("a header list over MaxHeaderBytes", func(t *testing.T) {
		r := s.dialRaw(t)
		fields := append([]string{}, getFields...)
		for i := range 40 {
			fields = append(fields, "x-big", strings.Repeat(string(rune('a'+i%26)), 1000))
		}
		r.request(1, true, fields...)
		if st := r.status(1); st != "431" {
			t.Errorf("status %q, want 431", st)
		}
		r.request(3, true)
		if st := r.status(3); st != "200" {
			t.Errorf("the next request: %q", st)
		}
	})
}

// PRIORITY frames and unknown frame types are ignored; PING and SETTINGS are answered.
func TestFramesThatAreIgnoredOrAnswered(t *testing.T) {
	s := startServer(t, http.HandlerFunc(ok), nil)
	r := s.dialRaw(t)
	_ = r.do(func(fr *http2.Framer) error {
		return fr.WritePriority(1, http2.PriorityParam{StreamDep: 0, Weight: 10})
	})
	writeRawFrame(r, 0xfa, 0, 1, []byte("whatever"))
	_ = r.do(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{1, 2, 3}) })
	if f := r.next(func(f http2.Frame) bool { p, ok := f.(*http2.PingFrame); return ok && p.IsAck() && p.Data[2] == 3 }); f == nil {
		t.Fatal("no PING ack")
	}
	r.request(1, true)
	if st := r.status(1); st != "200" {
		t.Errorf("after PRIORITY and an unknown frame: %q", st)
	}
}

// A client that floods PINGs and never reads what the server answers does not make the server
// queue answers: its writes block, and WriteByteTimeout closes the connection.
func TestAClientThatNeverReadsIsClosedByTheWriteTimeout(t *testing.T) {
	s := startServer(t, http.HandlerFunc(ok), func(l *h2limit.Limits, _ *http.Server) { l.WriteByteTimeout = 300 * time.Millisecond })
	conn := meshtest.DialTLS(t, s.m, s.addr, meshtest.Productpage, "h2")
	fr := http2.NewFramer(conn, conn)
	_, _ = conn.Write([]byte(http2.ClientPreface))
	_ = fr.WriteSettings()
	_ = conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	var err error
	pings := 0
	for ; err == nil && pings < 5_000_000; pings++ {
		err = fr.WritePing(false, [8]byte{})
	}
	if err == nil {
		t.Fatalf("%d PINGs written and the connection is still open", pings)
	}
	t.Logf("the server closed the connection after %d PINGs, %v", pings, time.Since(start).Round(time.Millisecond))

	// The same with an answer the client does not read, with its windows wide open.
	wrote := make(chan error, 1)
	s2 := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
	}), func(l *h2limit.Limits, _ *http.Server) { l.WriteByteTimeout = 300 * time.Millisecond })
	// A raw client that opens its windows wide, asks, and never reads a byte.
	conn2 := meshtest.DialTLS(t, s2.m, s2.addr, meshtest.Productpage, "h2")
	fr2 := http2.NewFramer(conn2, conn2)
	_, _ = conn2.Write([]byte(http2.ClientPreface))
	_ = fr2.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	_ = fr2.WriteSettingsAck()
	_ = fr2.WriteWindowUpdate(0, 1<<31-1-65535)
	enc := &raw{}
	enc.enc = hpack.NewEncoder(&enc.block)
	block := enc.headerBlock(getFields...)
	_ = fr2.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true})
	select {
	case err := <-wrote:
		t.Logf("the handler's write failed: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("the handler's writes to a client that does not read did not fail")
	}
}

// The reset budget is the engine's own: resets of unanswered streams and refused streams spend it,
// an empty bucket ends the connection with GOAWAY ENHANCE_YOUR_CALM and one log line.
func TestTheResetBudget(t *testing.T) {
	release := make(chan struct{})
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), func(l *h2limit.Limits, _ *http.Server) {
		l.ResetBurst, l.ResetsPerSecond, l.MaxConcurrentStreams = 20, 1, 5
	})
	defer close(release)
	r := s.dialRaw(t)
	id := uint32(1)
	for range 5 { // fill the stream limit
		r.request(id, true)
		id += 2
	}
	for range 30 { // refused: each takes a token
		r.request(id, true)
		id += 2
	}
	g := r.goAway()
	if g == nil || g.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v, want ENHANCE_YOUR_CALM", g)
	}
	if n := strings.Count(s.logs.String(), "stream reset budget exceeded"); n != 1 {
		t.Errorf("%d log lines, want 1:\n%s", n, s.logs.String())
	}
	if !strings.Contains(s.logs.String(), meshtest.Productpage) {
		t.Errorf("the log line does not name the peer: %s", s.logs.String())
	}
}

// IdleTimeout closes a connection without streams with GOAWAY; an unanswered PING closes a silent one.
func TestIdleAndSilentConnectionsAreClosed(t *testing.T) {
	s := startServer(t, http.HandlerFunc(ok), func(l *h2limit.Limits, _ *http.Server) {
		l.IdleTimeout = 300 * time.Millisecond
	})
	r := s.dialRaw(t)
	r.request(1, true)
	if st := r.status(1); st != "200" {
		t.Fatalf("status %q", st)
	}
	if g := r.goAway(); g == nil || g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1 {
		t.Errorf("idle: GOAWAY %+v, want NO_ERROR with last stream 1", g)
	}
	if !r.waitEnd() {
		t.Error("the idle connection stayed open")
	}

	s2 := startServer(t, http.HandlerFunc(ok), func(l *h2limit.Limits, _ *http.Server) {
		l.PingAfter, l.PingTimeout = 200*time.Millisecond, 200*time.Millisecond
	})
	conn := meshtest.DialTLS(t, s2.m, s2.addr, meshtest.Productpage, "h2")
	fr := http2.NewFramer(conn, conn)
	_, _ = conn.Write([]byte(http2.ClientPreface))
	_ = fr.WriteSettings()
	start := time.Now()
	gotPing := false
	for {
		f, err := fr.ReadFrame() // read, but never answer the server's PING
		if err != nil {
			break
		}
		if _, ok := f.(*http2.PingFrame); ok {
			gotPing = true
		}
	}
	if !gotPing || time.Since(start) > 5*time.Second {
		t.Errorf("ping seen %v, closed after %v", gotPing, time.Since(start))
	}
}

// A bad preface gets no answer in HTTP/2; the connection just closes.
func TestABadPrefaceClosesTheConnection(t *testing.T) {
	s := startServer(t, http.HandlerFunc(ok), nil)
	conn := meshtest.DialTLS(t, s.m, s.addr, meshtest.Productpage, "h2")
	_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.Copy(io.Discard, conn); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Errorf("after %d bytes: %v, want the connection closed", n, err)
	}
}

// A handler that answers with Connection: close (the gateway does so for a peer revoked after its
// handshake) gets GOAWAY sent ahead of its answer, so a client that reads the answer already knows to
// open its next stream on a new connection; the connection closes once the answer is out.
func TestConnectionCloseSendsGoAwayAheadOfTheAnswer(t *testing.T) {
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "RBAC: access denied", http.StatusForbidden)
	}), nil)
	r := s.dialRaw(t)
	r.request(1, true)
	var order []string
	for len(order) < 2 {
		f := r.next(func(f http2.Frame) bool {
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				return true
			case *respHeaders:
				return f.stream == 1
			}
			return false
		})
		if f == nil {
			t.Fatalf("the connection ended after %v", order)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			if f.LastStreamID != 1 || f.ErrCode != http2.ErrCodeNo {
				t.Errorf("GOAWAY last stream %d, %v; want 1, NO_ERROR", f.LastStreamID, f.ErrCode)
			}
			order = append(order, "GOAWAY")
		case *respHeaders:
			order = append(order, "HEADERS")
		}
	}
	if order[0] != "GOAWAY" {
		t.Errorf("frames in the order %v, want GOAWAY ahead of the answer", order)
	}
	select {
	case <-r.ended:
	case <-time.After(5 * time.Second):
		t.Error("the connection stayed open after its one stream was answered")
	}
}
