package h2cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
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
)

func TestManyConcurrentRequestsOnOneConnection(t *testing.T) {
	p := newTLSPair(t)
	var conns atomic.Int32
	addr := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example.com" || r.URL.Path != "/q" || r.URL.RawQuery != "n=1" {
			http.Error(w, "bad request line "+r.Host+r.URL.String(), 400)
			return
		}
		w.Header().Set("X-Echo", r.Header.Get("X-Test"))
		io.WriteString(w, strings.Repeat("a", 1024))
	}), nil)
	tr := newTransport(t, p, addr)
	inner := tr.Dial
	tr.Dial = func(ctx context.Context) (*tls.Conn, error) { conns.Add(1); return inner(ctx) }
	var wg sync.WaitGroup
	var worst atomic.Int64
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				start := time.Now()
				req, _ := http.NewRequest("GET", "https://www.example.com/q?n=1", nil)
				req.Header.Set("X-Test", fmt.Sprint(g, i))
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || len(b) != 1024 || resp.Header.Get("X-Echo") != fmt.Sprint(g, i) {
					t.Errorf("status %d, %d bytes, echo %q, err %v", resp.StatusCode, len(b), resp.Header.Get("X-Echo"), err)
					return
				}
				if d := time.Since(start); int64(d) > worst.Load() {
					worst.Store(int64(d))
				}
			}
		}()
	}
	wg.Wait()
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	t.Logf("slowest request %v", time.Duration(worst.Load()))
}

func TestLargeBodiesBothWaysWithFlowControl(t *testing.T) {
	p := newTLSPair(t)
	addr := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("X-Sum", fmt.Sprintf("%x", h.Sum(nil)))
		w.Header().Set("X-Len", fmt.Sprint(n))
		// Answer with 8 MiB: many times the windows of both ends.
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for i := 0; i < 128; i++ {
			w.Write(chunk)
		}
	}), func(s *http2.Server) { s.MaxUploadBufferPerStream = 65535; s.MaxUploadBufferPerConnection = 65535 })
	tr := newTransport(t, p, addr)
	tr.StreamWindow, tr.ConnWindow = 65535, 128<<10
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("content length known %v", known), func(t *testing.T) {
			body := make([]byte, 5<<20+3)
			rand.Read(body)
			var rd io.Reader = bytes.NewReader(body)
			if !known {
				rd = io.MultiReader(rd) // hides the length
			}
			req, _ := http.NewRequest("POST", "https://up.example.com/", rd)
			if !known {
				req.ContentLength = -1
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil || n != 8<<20 {
				t.Fatalf("read %d bytes, err %v", n, err)
			}
			if want := fmt.Sprintf("%x", sha256.Sum256(body)); resp.Header.Get("X-Sum") != want || resp.Header.Get("X-Len") != fmt.Sprint(len(body)) {
				t.Errorf("server got %s bytes, sum %s", resp.Header.Get("X-Len"), resp.Header.Get("X-Sum"))
			}
		})
	}
}

func TestTrailersBothWays(t *testing.T) {
	p := newTLSPair(t)
	addr := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-Resp-Trailer")
		io.WriteString(w, "body")
		w.Header().Set("X-Resp-Trailer", "got "+r.Trailer.Get("X-Req-Trailer"))
	}), nil)
	tr := newTransport(t, p, addr)
	req, _ := http.NewRequest("POST", "https://t.example.com/", strings.NewReader("request body"))
	req.Trailer = http.Header{"X-Req-Trailer": nil}
	req.ContentLength = -1
	// The request's trailer value is known only once its body is read, as with net/http.
	req.Body = &trailerSetter{r: strings.NewReader("request body"), set: func() { req.Trailer.Set("X-Req-Trailer", "ok") }}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "body" {
		t.Fatalf("body %q, err %v", b, err)
	}
	if got := resp.Trailer.Get("X-Resp-Trailer"); got != "got ok" {
		t.Errorf("response trailer %q, want %q", got, "got ok")
	}
}

type trailerSetter struct {
	r   io.Reader
	set func()
}

func (s *trailerSetter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.set()
	}
	return n, err
}
func (s *trailerSetter) Close() error { return nil }

func TestConnectIsFullDuplex(t *testing.T) {
	p := newTLSPair(t)
	addr := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Host != "db.example.com:5432" {
			http.Error(w, "want CONNECT db.example.com:5432, got "+r.Method+" "+r.Host, 400)
			return
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		// Echo line by line: each answer must come back before the next line is sent.
		buf := make([]byte, 1024)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(bytes.ToUpper(buf[:n]))
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}), nil)
	tr := newTransport(t, p, addr)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodConnect, "https://db.example.com:5432", pr)
	req.Host = "db.example.com:5432"
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	buf := make([]byte, 64)
	for _, line := range []string{"hello", "second line", "third"} {
		if _, err := pw.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		n, err := io.ReadAtLeast(resp.Body, buf, len(line))
		if err != nil || string(buf[:n]) != strings.ToUpper(line) {
			t.Fatalf("echo %q, err %v", buf[:n], err)
		}
	}
	pw.Close()
	if b, err := io.ReadAll(resp.Body); err != nil || len(b) != 0 {
		t.Errorf("after the client closed its side: %q, %v", b, err)
	}
	resp.Body.Close()
}

func TestCancellationResetsTheStreamAndFailsTheBodyRead(t *testing.T) {
	p := newTLSPair(t)
	gone := make(chan error, 1)
	addr := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		gone <- r.Context().Err()
	}), nil)
	tr := newTransport(t, p, addr)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://slow.example.com/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v, want context.Canceled", err)
	}
	select {
	case <-gone: // the server saw RST_STREAM
	case <-time.After(5 * time.Second):
		t.Fatal("the server's handler never saw the stream reset")
	}
	// The connection stays usable.
	resp, err = get(t, tr, "https://slow.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestClosingTheBodyEarlyResetsTheStream(t *testing.T) {
	p := newTLSPair(t)
	gone := make(chan struct{})
	addr := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write(make([]byte, 16<<10)); err != nil {
				close(gone)
				return
			}
			w.(http.Flusher).Flush()
		}
	}), nil)
	tr := newTransport(t, p, addr)
	resp, err := get(t, tr, "https://endless.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 100<<10))
	resp.Body.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the server kept writing: no RST_STREAM")
	}
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Error("read after Close succeeded")
	}
}

func TestOneStreamAtATimeWhenTheServerAllowsOne(t *testing.T) {
	p := newTLSPair(t)
	var mu sync.Mutex
	active := map[string]int{} // by connection
	most := 0
	addr := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		active[r.RemoteAddr]++
		most = max(most, active[r.RemoteAddr])
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		active[r.RemoteAddr]--
		mu.Unlock()
		io.WriteString(w, "ok")
	}), func(s *http2.Server) { s.MaxConcurrentStreams = 1 })
	tr := newTransport(t, p, addr)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := get(t, tr, "https://one.example.com/")
			if err != nil {
				t.Error(err)
				return
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
				t.Errorf("body %q", b)
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if most != 1 {
		t.Errorf("a connection carried %d streams at once; the server allows 1", most)
	}
}

func TestAbandonedBodiesReturnTheirWindow(t *testing.T) {
	p := newTLSPair(t)
	addr := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 60<<10)) // fills most of a 64 KiB stream window
	}), nil)
	tr := newTransport(t, p, addr)
	tr.StreamWindow, tr.ConnWindow = 65535, 128<<10 // two such bodies fill the connection's window
	for i := 0; i < 10; i++ {
		resp, err := get(t, tr, "https://big.example.com/")
		if err != nil {
			t.Fatal(err)
		}
		// Wait until the whole body is buffered, then drop it unread.
		time.Sleep(20 * time.Millisecond)
		resp.Body.Close()
	}
	body, err := getWithin(t, tr, 5*time.Second)
	if err != nil || len(body) != 60<<10 {
		t.Fatalf("after ten abandoned bodies: %d bytes, %v", len(body), err)
	}
}
