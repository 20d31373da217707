package h2srv_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"egret.dev/egret/internal/h2limit"
	"egret.dev/egret/internal/meshtest"
)

// The handler sees the request as net/http's servers show it, with the caller's verified identity.
func TestTheHandlerSeesTheRequestAndTheCallersVerifiedIdentity(t *testing.T) {
	var got struct {
		proto, host, path, query, remote, peer, cookie, custom string
		cl                                                     int64
		body                                                   string
	}
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.proto, got.host, got.path, got.query, got.remote = r.Proto, r.Host, r.URL.Path, r.URL.RawQuery, r.RemoteAddr
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			got.peer = r.TLS.VerifiedChains[0][0].URIs[0].String()
		}
		got.cookie, got.custom, got.cl = r.Header.Get("Cookie"), r.Header.Get("X-Custom"), r.ContentLength
		b, _ := io.ReadAll(r.Body)
		got.body = string(b)
		io.WriteString(w, "<html>hello</html>")
	}), nil)
	req, _ := http.NewRequest("POST", "https://www.google.com/a/b?x=1&y=2", strings.NewReader("payload"))
	req.Header.Set("X-Custom", "yes")
	req.AddCookie(&http.Cookie{Name: "a", Value: "1"})
	req.AddCookie(&http.Cookie{Name: "b", Value: "2"})
	resp, err := s.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "<html>hello</html>" || resp.ContentLength != int64(len(body)) || resp.Header.Get("Date") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("answer: %q, Content-Length %d, Date %q, Content-Type %q", body, resp.ContentLength, resp.Header.Get("Date"), resp.Header.Get("Content-Type"))
	}
	if got.proto != "HTTP/2.0" || got.host != "www.google.com" || got.path != "/a/b" || got.query != "x=1&y=2" ||
		!strings.HasPrefix(got.remote, "127.0.0.1:") || got.peer != meshtest.Productpage || got.cookie != "a=1; b=2" ||
		got.custom != "yes" || got.cl != 7 || got.body != "payload" {
		t.Errorf("the handler saw %+v", got)
	}
}

// Many streams at once on one connection, each echoing a body bigger than the windows.
func TestManyConcurrentStreamsEchoTheirBodies(t *testing.T) {
	s := startServer(t, http.HandlerFunc(echo), func(l *h2limit.Limits, _ *http.Server) {
		l.MaxUploadBufferPerStream = 16 << 10
		l.MaxUploadBufferPerConnection = 64 << 10
	})
	c := s.client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := bytes.Repeat([]byte{byte(i)}, 40<<10+i)
			resp, err := c.Post("https://www.google.com/", "application/octet-stream", bytes.NewReader(want))
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, want) {
				errs <- fmt.Errorf("stream %d: %d bytes back (%v), want %d", i, len(got), err, len(want))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = io.Copy(w, r.Body)
}

// Big bodies both ways through small flow-control windows, and the server's writes bounded by the
// client's windows.
func TestBigBodiesBothWaysThroughSmallWindows(t *testing.T) {
	const size = 8 << 20
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Sum", fmt.Sprintf("%x", h.Sum(nil)))
		w.Header().Set("X-Len", fmt.Sprint(n))
		chunk := bytes.Repeat([]byte("z"), 1000)
		for written := 0; written < size; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}), func(l *h2limit.Limits, _ *http.Server) {
		l.MaxUploadBufferPerStream = 20000
		l.MaxUploadBufferPerConnection = 70000
	})
	up := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	resp, err := s.client(t).Post("https://www.google.com/", "", bytes.NewReader(up))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(up)
	if resp.Header.Get("X-Sum") != fmt.Sprintf("%x", sum) || resp.Header.Get("X-Len") != fmt.Sprint(size) {
		t.Errorf("the handler read %s bytes, sum %s", resp.Header.Get("X-Len"), resp.Header.Get("X-Sum"))
	}
	if err != nil || n < size {
		t.Errorf("%d bytes of the answer (%v), want %d", n, err, size)
	}
}

// Trailers both ways: the request's into r.Trailer, the answer's declared with Trailer and with
// http.TrailerPrefix.
func TestTrailersBothWays(t *testing.T) {
	var reqTrailer string
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		reqTrailer = r.Trailer.Get("X-Req-Sum")
		w.Header().Set("Trailer", "X-Declared")
		w.WriteHeader(200)
		io.WriteString(w, "body")
		w.Header().Set("X-Declared", "d")
		w.Header().Set(http.TrailerPrefix+"X-Late", "l")
	}), nil)
	req, _ := http.NewRequest("POST", "https://www.google.com/", io.MultiReader(strings.NewReader("abc")))
	req.Trailer = http.Header{"X-Req-Sum": {"42"}}
	resp, err := s.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "body" || resp.Trailer.Get("X-Declared") != "d" || resp.Trailer.Get("X-Late") != "l" || reqTrailer != "42" {
		t.Errorf("body %q, answer trailers %v, request trailer %q", body, resp.Trailer, reqTrailer)
	}
	if resp.Header.Get("X-Declared") != "" || resp.Header.Get("X-Late") != "" {
		t.Errorf("trailers also sent as headers: %v", resp.Header)
	}
}

// A CONNECT stream is full duplex: the handler answers each line while the client still writes.
func TestConnectStreamsAreFullDuplex(t *testing.T) {
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Host != "db.example:5432" || r.URL.Host != "db.example:5432" {
			http.Error(w, "want CONNECT db.example:5432", 400)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("SetWriteDeadline: %v, want ErrNotSupported", err)
		}
		if _, _, err := rc.Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack: %v, want ErrNotSupported", err)
		}
		w.WriteHeader(200)
		_ = rc.Flush()
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			fmt.Fprintf(w, "echo %s\n", sc.Text())
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}), nil)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodConnect, "https://db.example:5432", pr)
	req.Host = "db.example:5432"
	resp, err := s.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	rd := bufio.NewReader(resp.Body)
	for i := range 20 {
		fmt.Fprintf(pw, "line %d\n", i)
		line, err := rd.ReadString('\n')
		if err != nil || line != fmt.Sprintf("echo line %d\n", i) {
			t.Fatalf("round %d: %q %v", i, line, err)
		}
	}
	pw.Close()
	if _, err := rd.ReadString('\n'); err != io.EOF {
		t.Errorf("after the client's end: %v, want EOF", err)
	}
}

// A client that gives up cancels the handler's context; so does the handler's return for the rest.
func TestACancelledRequestCancelsTheHandlersContext(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	}), nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://www.google.com/", nil)
	go func() { <-started; cancel() }()
	if _, err := s.client(t).Do(req); err == nil {
		t.Fatal("the cancelled request succeeded")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled")
	}
}

// Shutdown sends GOAWAY: the stream in flight finishes, Shutdown waits for it, then the connection closes.
func TestShutdownLetsTheStreamsInFlightFinish(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "finished")
	}), nil)
	c := s.client(t)
	done := make(chan string)
	go func() {
		resp, err := c.Get("https://www.google.com/")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	<-started
	shut := make(chan error)
	go func() { shut <- s.srv.Shutdown(context.Background()) }()
	meshtest.WaitFor(t, func() bool { return s.h2.Conns() == 1 })
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned while a stream was in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if got := <-done; got != "finished" {
		t.Errorf("the stream in flight got %q", got)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the last stream")
	}
	if n := s.h2.Conns(); n != 0 {
		t.Errorf("%d connections still served", n)
	}
}

// The answers net/http gives in special cases.
func TestSpecialAnswers(t *testing.T) {
	var aborted atomic.Int32
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			io.WriteString(w, "not sent to HEAD")
		case "/panic":
			defer aborted.Add(1)
			panic("boom")
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/unread":
			io.WriteString(w, "early answer") // the upload is not read
		case "/early-hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "after hints")
		case "/flush":
			io.WriteString(w, "part")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "-rest")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
				t.Errorf("a body on 204: %v", err)
			}
		}
	}), nil)
	c := s.client(t)

	resp, err := c.Head("https://www.google.com/head")
	if err != nil || resp.ContentLength != int64(len("not sent to HEAD")) {
		t.Errorf("HEAD: %v, Content-Length %d", err, resp.ContentLength)
	}
	if _, err := c.Get("https://www.google.com/panic"); err == nil || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
		t.Errorf("a panicking handler: %v, want a stream reset INTERNAL_ERROR", err)
	}
	if _, err := c.Get("https://www.google.com/abort"); err == nil {
		t.Error("an aborted handler answered")
	}
	resp, err = c.Post("https://www.google.com/unread", "", io.LimitReader(zeros{}, 50<<20))
	if err != nil {
		t.Errorf("an early answer to an unread upload: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "early answer" {
			t.Errorf("early answer: %q", b)
		}
	}
	var hints []int
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		hints = append(hints, code)
		return nil
	}})
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://www.google.com/early-hints", nil)
	if resp, err := c.Do(req); err != nil || len(hints) != 1 || hints[0] != 103 {
		t.Errorf("early hints: %v %v", hints, err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "after hints" {
			t.Errorf("after hints: %q", b)
		}
	}
	resp, err = c.Get("https://www.google.com/flush")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "part-rest" || resp.ContentLength != -1 {
			t.Errorf("flushed answer %q, Content-Length %d (want none after a flush)", b, resp.ContentLength)
		}
	}
	if resp, err := c.Get("https://www.google.com/nocontent"); err != nil || resp.StatusCode != 204 {
		t.Errorf("204: %v", err)
	}
	if aborted.Load() != 1 {
		t.Errorf("the panicking handler ran %d times", aborted.Load())
	}
	if !strings.Contains(s.logs.String(), "") {
		t.Log(s.logs.String())
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
