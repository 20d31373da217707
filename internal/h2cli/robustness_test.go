package h2cli_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"egret.dev/egret/internal/h2cli"
)

// getWithin sends a GET bounded by d, reading the body; the error is the request's or the body's.
func getWithin(t *testing.T, tr http.RoundTripper, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://evil.example.com/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestAMaliciousServerCannotHangOrBloatTheClient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(rc *rawConn, id uint32)
	}{
		{"a huge header block", func(rc *rawConn, id uint32) {
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.block(":status", "200", "x-big", strings.Repeat("a", 15000)), EndHeaders: false})
			for i := 0; i < 200; i++ { // 3 MB of header, well past the 64 KiB limit
				if rc.fr.WriteContinuation(id, false, rc.block("x-more", strings.Repeat("b", 15000))) != nil {
					return
				}
			}
		}},
		{"endless CONTINUATION frames", func(rc *rawConn, id uint32) {
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.block(":status", "200"), EndHeaders: false})
			for i := 0; i < 100000; i++ {
				if rc.fr.WriteContinuation(id, false, rc.block("x", strings.Repeat("c", 1000))) != nil {
					return
				}
			}
		}},
		{"DATA beyond the stream window", func(rc *rawConn, id uint32) {
			rc.headers(id, false, ":status", "200")
			chunk := make([]byte, 16384)
			for i := 0; i < 5; i++ { // 80 KiB into a 64 KiB window
				if rc.fr.WriteData(id, false, chunk) != nil {
					return
				}
			}
		}},
		{"a WINDOW_UPDATE overflowing the connection window", func(rc *rawConn, id uint32) {
			rc.fr.WriteWindowUpdate(0, 1<<31-1)
		}},
		{"HEADERS on a stream the client never opened", func(rc *rawConn, id uint32) {
			rc.headers(id+100, true, ":status", "200")
		}},
		{"DATA before the response header", func(rc *rawConn, id uint32) {
			rc.fr.WriteData(id, true, []byte("early"))
		}},
		{"a malformed status", func(rc *rawConn, id uint32) {
			rc.headers(id, true, ":status", "2000")
		}},
		{"a body longer than its Content-Length", func(rc *rawConn, id uint32) {
			rc.headers(id, false, ":status", "200", "content-length", "3")
			rc.fr.WriteData(id, true, []byte("too long"))
		}},
		{"a body shorter than its Content-Length", func(rc *rawConn, id uint32) {
			rc.headers(id, false, ":status", "200", "content-length", "30")
			rc.fr.WriteData(id, true, []byte("short"))
		}},
		{"a request pseudo-header in a response", func(rc *rawConn, id uint32) {
			rc.headers(id, true, ":status", "200", ":path", "/")
		}},
		{"an upper-case header name", func(rc *rawConn, id uint32) {
			rc.headers(id, true, ":status", "200", "X-Upper", "1")
		}},
		{"a pseudo-header after a regular one", func(rc *rawConn, id uint32) {
			rc.headers(id, true, "x-a", "1", ":status", "200")
		}},
		{"101 Switching Protocols", func(rc *rawConn, id uint32) {
			rc.headers(id, true, ":status", "101")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTLSPair(t)
			addr := rawServer(t, p, nil, func(rc *rawConn) {
				f := rc.request()
				if f == nil {
					return
				}
				tc.script(rc, f.StreamID)
				io.Copy(io.Discard, rc.tc) // hold the connection open until the client closes it
			})
			tr := newTransport(t, p, addr)
			tr.MaxHeaderListSize = 64 << 10
			tr.StreamWindow = 65535
			start := time.Now()
			body, err := getWithin(t, tr, 10*time.Second)
			if err == nil {
				t.Fatalf("got body %q, want an error", body)
			}
			if errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
				t.Fatalf("the client waited for the caller's deadline (%v): %v", time.Since(start), err)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestInformationalResponsesAreSkipped(t *testing.T) {
	p := newTLSPair(t)
	addr := rawServer(t, p, nil, func(rc *rawConn) {
		f := rc.request()
		if f == nil {
			return
		}
		rc.headers(f.StreamID, false, ":status", "103", "link", "</a.css>")
		rc.headers(f.StreamID, false, ":status", "100")
		rc.headers(f.StreamID, false, ":status", "200", "content-length", "2")
		rc.fr.WriteData(f.StreamID, true, []byte("ok"))
		io.Copy(io.Discard, rc.tc)
	})
	tr := newTransport(t, p, addr)
	body, err := getWithin(t, tr, 5*time.Second)
	if err != nil || body != "ok" {
		t.Fatalf("body %q, err %v", body, err)
	}
}

func TestARefusedStreamIsSentAgain(t *testing.T) {
	p := newTLSPair(t)
	var streams atomic.Int32
	addr := rawServer(t, p, nil, func(rc *rawConn) {
		for {
			f := rc.request()
			if f == nil {
				return
			}
			if streams.Add(1) == 1 {
				rc.fr.WriteRSTStream(f.StreamID, http2.ErrCodeRefusedStream)
				continue
			}
			rc.headers(f.StreamID, false, ":status", "200")
			rc.fr.WriteData(f.StreamID, true, []byte("second try"))
		}
	})
	tr := newTransport(t, p, addr)
	body, err := getWithin(t, tr, 5*time.Second)
	if err != nil || body != "second try" {
		t.Fatalf("body %q, err %v", body, err)
	}
	if n := streams.Load(); n != 2 {
		t.Errorf("server saw %d streams, want 2", n)
	}
}

func TestStreamsPastGoAwayAreSentOnANewConnection(t *testing.T) {
	p := newTLSPair(t)
	var conns atomic.Int32
	addr := rawServer(t, p, nil, func(rc *rawConn) {
		first := conns.Add(1) == 1
		var ids []uint32
		for len(ids) < 2 || !first {
			f := rc.request()
			if f == nil {
				return
			}
			if !first {
				rc.headers(f.StreamID, false, ":status", "200")
				rc.fr.WriteData(f.StreamID, true, []byte("new connection"))
				continue
			}
			ids = append(ids, f.StreamID)
		}
		// The first connection processes only its first stream.
		rc.fr.WriteGoAway(ids[0], http2.ErrCodeNo, nil)
		rc.headers(ids[0], false, ":status", "200")
		rc.fr.WriteData(ids[0], true, []byte("old connection"))
		io.Copy(io.Discard, rc.tc)
	})
	tr := newTransport(t, p, addr)
	var wg sync.WaitGroup
	bodies := make([]string, 2)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := getWithin(t, tr, 5*time.Second)
			if err != nil {
				t.Error(err)
			}
			bodies[i] = b
		}()
	}
	wg.Wait()
	got := strings.Join(bodies, ",")
	if !strings.Contains(got, "old connection") || !strings.Contains(got, "new connection") {
		t.Errorf("bodies %q: want one answer on each connection", got)
	}
	// New requests go to the new connection.
	if b, err := getWithin(t, tr, 5*time.Second); err != nil || b != "new connection" {
		t.Errorf("after GOAWAY: %q, %v", b, err)
	}
}

func TestGoAwayDuringLoadLosesNoRequest(t *testing.T) {
	p := newTLSPair(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	// Each generation of the server is shut down gracefully (GOAWAY) while requests run.
	var mu sync.Mutex
	type gen struct {
		hs *http.Server
		h2 *http2.Server
	}
	newGen := func() gen {
		g := gen{hs: &http.Server{}, h2: &http2.Server{}}
		http2.ConfigureServer(g.hs, g.h2)
		return g
	}
	cur := newGen()
	addr := listen(t, p, func(tc *tls.Conn) {
		mu.Lock()
		g := cur
		mu.Unlock()
		g.h2.ServeConn(tc, &http2.ServeConnOpts{Handler: h, BaseConfig: g.hs})
	})
	tr := newTransport(t, p, addr)
	stop := make(chan struct{})
	var shutdowns atomic.Int32
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond): // each GOAWAY refuses what is in flight: retries must land on the next generation
			}
			mu.Lock()
			old := cur
			cur = newGen()
			mu.Unlock()
			go old.hs.Shutdown(context.Background())
			shutdowns.Add(1)
		}
	}()
	defer close(stop)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				want := strings.Repeat("x", i%100)
				req, _ := http.NewRequest("POST", "https://load.example.com/", strings.NewReader(want))
				resp, err := tr.RoundTrip(req)
				if err != nil {
					failed.Add(1)
					t.Errorf("request %d: %v", i, err)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != want {
					t.Errorf("request %d: %d bytes back, %v", i, len(b), err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d graceful shutdowns, %d failed requests", shutdowns.Load(), failed.Load())
}

func TestAServerThatStopsReadingIsEndedByTheCallersDeadline(t *testing.T) {
	p := newTLSPair(t)
	// Windows wide open, so the client's writes block on the socket, not on flow control.
	var conns atomic.Int32
	addr := rawServer(t, p, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1}}, func(rc *rawConn) {
		rc.fr.WriteWindowUpdate(0, 1<<31-1-65535)
		f := rc.request()
		if f == nil {
			return
		}
		if conns.Add(1) == 1 {
			<-rc.gone // never reads again
			return
		}
		rc.headers(f.StreamID, true, ":status", "204")
		io.Copy(io.Discard, rc.tc)
	})
	tr := newTransport(t, p, addr)
	tr.PingAfter = 0
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "https://stuck.example.com/", io.LimitReader(zeros{}, 1<<30))
	req.ContentLength = -1
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want the deadline", err)
		}
		t.Logf("returned after %v", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("RoundTrip still blocked 5 s after its deadline")
	}
	// A request that starts now does not wait behind the stuck write either: the connection was broken
	// and the request goes to a new one.
	if _, err := getWithin(t, tr, 3*time.Second); err != nil {
		t.Errorf("a later request: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestAPingUnansweredClosesABlackHoledConnection(t *testing.T) {
	p := newTLSPair(t)
	addr := rawServer(t, p, nil, func(rc *rawConn) {
		rc.request()
		<-rc.gone // reads nothing, answers nothing: a black hole
	})
	tr := newTransport(t, p, addr)
	tr.PingAfter, tr.PingTimeout = 200*time.Millisecond, 200*time.Millisecond
	start := time.Now()
	_, err := getWithin(t, tr, 10*time.Second)
	var ce *h2cli.ConnError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("err %v, want the connection failed for an unanswered ping", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestAnIdleConnectionIsClosed(t *testing.T) {
	p := newTLSPair(t)
	closed := make(chan struct{})
	addr := rawServer(t, p, nil, func(rc *rawConn) {
		f := rc.request()
		if f == nil {
			return
		}
		rc.headers(f.StreamID, true, ":status", "204")
		for rc.next() != nil { // until the client closes the connection
		}
		close(closed)
	})
	tr := newTransport(t, p, addr)
	tr.IdleTimeout, tr.PingAfter = 200*time.Millisecond, 0
	if _, err := getWithin(t, tr, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("the idle connection is still open")
	}
}

type dialFailed struct{}

func (dialFailed) Error() string { return "refused" }

func TestADialFailureIsNotSent(t *testing.T) {
	tr := &h2cli.Transport{Dial: func(context.Context) (*tls.Conn, error) { return nil, dialFailed{} }}
	_, err := get(t, tr, "https://x.example.com/")
	var df dialFailed
	if !errors.As(err, &df) || !h2cli.NotSent(err) {
		t.Fatalf("err %v: want the dial's error, marked not sent", err)
	}
}

func TestTheServersSettingsAreHonoured(t *testing.T) {
	p := newTLSPair(t)
	addr := rawServer(t, p, []http2.Setting{
		{ID: http2.SettingHeaderTableSize, Val: 0},
		{ID: http2.SettingMaxFrameSize, Val: 20000},
		{ID: http2.SettingInitialWindowSize, Val: 1000},
	}, func(rc *rawConn) {
		rc.fr.ReadMetaHeaders.SetAllowedMaxDynamicTableSize(0)
		for {
			f := rc.request()
			if f == nil {
				return
			}
			// The body comes in 1000-byte steps: the window, renewed each time.
			var got int
			for !f.StreamEnded() {
				fr := rc.next()
				d, ok := fr.(*http2.DataFrame)
				if !ok {
					return
				}
				if len(d.Data()) > 1000 {
					rc.t.Errorf("DATA of %d bytes in a 1000-byte window", len(d.Data()))
				}
				got += len(d.Data())
				if len(d.Data()) > 0 {
					rc.fr.WriteWindowUpdate(f.StreamID, uint32(len(d.Data())))
					rc.fr.WriteWindowUpdate(0, uint32(len(d.Data())))
				}
				if d.StreamEnded() {
					break
				}
			}
			rc.headers(f.StreamID, true, ":status", "204", "x-got", strings.Repeat("1", got%10))
		}
	})
	tr := newTransport(t, p, addr)
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("POST", "https://s.example.com/", strings.NewReader(strings.Repeat("z", 5000)))
		req.Header.Set("X-Repeated", "the same header twice, which a dynamic table would index")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func TestARequestStuckInItsOwnWriteEndsWithThePing(t *testing.T) {
	p := newTLSPair(t)
	addr := rawServer(t, p, nil, func(rc *rawConn) {
		<-rc.gone // reads nothing after the preface: the client's writes fill the socket
	})
	tr := newTransport(t, p, addr)
	tr.PingAfter, tr.PingTimeout = 200*time.Millisecond, 200*time.Millisecond
	req, _ := http.NewRequest("GET", "https://stuck.example.com/", nil)
	req.Header.Set("X-Huge", strings.Repeat("h", 32<<20)) // more than loopback's socket buffers hold
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		done <- err
	}()
	select {
	case err := <-done:
		if !strings.Contains(fmt.Sprint(err), "ping") {
			t.Errorf("err %v, want the connection closed for an unanswered ping", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the caller is still blocked in its write")
	}
}
