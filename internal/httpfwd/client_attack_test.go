package httpfwd_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"

	"egret.dev/egret/internal/httpfwd"
)

// smuggled is an answer a hostile host appends to its own, hoping the client takes it for the answer
// to the next request on the kept-alive connection.
const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned"

// An upstream host is outside the mesh: each answer here is crafted to poison the next answer on a
// pooled connection. The client must refuse it, or take it and not reuse the connection; either way
// the next request gets the host's real answer to it, never the smuggled one. Both ways of using the
// client are tried: RoundTrip (a fresh response per exchange) and Forward (the connection's pooled
// response and body).
func TestClientDoesNotLetAHostPoisonTheNextAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  string
		refused bool // the answer must be an error (in RoundTrip; Forward may have copied part of a body)
		body    string
	}{
		{name: "extra bytes after a Content-Length body",
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" + smuggled, body: "hi"},
		{name: "a 204 that carries a body",
			answer: "HTTP/1.1 204 No Content\r\nContent-Length: 8\r\n\r\n" + smuggled},
		{name: "Content-Length and Transfer-Encoding together",
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled, body: "hello"},
		{name: "Transfer-Encoding then Content-Length",
			answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 47\r\n\r\n0\r\n\r\n" + smuggled},
		{name: "two different Content-Lengths", refused: true,
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 47\r\n\r\nhi" + smuggled},
		{name: "whitespace before the colon of Content-Length", refused: true,
			answer: "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nhi" + smuggled},
		{name: "a Content-Length that is not digits", refused: true,
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nhi" + smuggled},
		{name: "a transfer coding other than chunked", refused: true,
			answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{name: "chunked spelled with a Kelvin sign", refused: true,
			answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chun\u212aed\r\n\r\n0\r\n\r\n" + smuggled},
		{name: "Transfer-Encoding folded over two lines", refused: true,
			answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: x\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{name: "a chunk size that overflows", refused: true,
			answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000002\r\nhi\r\n0\r\n\r\n" + smuggled},
		{name: "a chunk longer than its size", refused: true,
			answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi" + smuggled + "\r\n0\r\n\r\n"},
		{name: "a trailer field with whitespace in its name", refused: true,
			answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length : 0\r\n\r\n" + smuggled},
		{name: "more informational answers than allowed", refused: true,
			answer: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + smuggled},
		{name: "a status line that is not HTTP/1.x", refused: true,
			answer: "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n" + smuggled},
		{name: "a bare LF after the headers",
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nhi" + smuggled, body: "hi"},
		{name: "a header too long for the buffer",
			answer: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 6000) + "\r\nContent-Length: 2\r\n\r\nhi" + smuggled, body: "hi"},
		{name: "a header line longer than the 1 MiB limit", refused: true,
			answer: "HTTP/1.1 200 OK\r\nX-Huge: " + strings.Repeat("h", 1<<20+10) + "\r\nContent-Length: 2\r\n\r\nhi" + smuggled},
	} {
		for _, mode := range []string{"RoundTrip", "Forward"} {
			t.Run(tc.name+" via "+mode, func(t *testing.T) {
				url, c, _ := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
					for {
						req, err := readRequest(br)
						if err != nil {
							return
						}
						a := "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"
						if req.URL.Path == "/evil" {
							a = tc.answer // in one write: the smuggled bytes arrive with the answer
						}
						if _, err := conn.Write([]byte(a)); err != nil {
							return
						}
					}
				})
				send := exchangeVia(mode)
				if body, reused, err := send(t, c, url+"/"); err != nil || body != "real" || reused {
					t.Fatalf("first request: %q, reused %v, %v", body, reused, err)
				}
				body, _, err := send(t, c, url+"/evil")
				switch {
				case tc.refused && mode == "RoundTrip" && err == nil:
					t.Errorf("the answer was taken (body %q); want it refused", body)
				case strings.Contains(body, "poisoned"):
					t.Errorf("the smuggled answer was copied: %q", body)
				case !tc.refused && (err != nil || body != tc.body):
					t.Errorf("got %q, %v; want %q", body, err, tc.body)
				}
				body, reused, err := send(t, c, url+"/")
				if err != nil || body != "real" {
					t.Fatalf("the next request got %q, %v; want the host's real answer", body, err)
				}
				if reused {
					t.Error("the next request went on the connection of the hostile answer")
				}
			})
		}
	}
}

// exchangeVia sends a GET with the client's RoundTrip or with Forward, and returns the body the
// caller got and whether the exchange went on a pooled connection.
func exchangeVia(mode string) func(t *testing.T, c *httpfwd.Client, url string) (string, bool, error) {
	if mode == "RoundTrip" {
		return func(t *testing.T, c *httpfwd.Client, url string) (string, bool, error) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			_, body, reused, err := exchange(t, c, req)
			return body, reused, err
		}
	}
	return func(t *testing.T, c *httpfwd.Client, url string) (string, bool, error) {
		var reused bool
		x := &httpfwd.Exchange{}
		rec := httptest.NewRecorder()
		x.Init(rec)
		x.Trace.GotConn = func(i httptrace.GotConnInfo) { reused = i.Reused }
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		err := (&httpfwd.Forwarder{}).Forward(rec, req, req, c, x)
		return rec.Body.String(), reused, err
	}
}

// Forward hands each answer's response, header map and body back to its connection when it ends:
// many exchanges at once over a few kept-alive connections must each get their own answer, headers
// and trailers, never a piece of another's (run with -race too).
func TestForwardNeverMixesAnswersOnPooledConnections(t *testing.T) {
	srv, c, conns := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/chunked") {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, r.URL.Path)
			w.(http.Flusher).Flush()
			w.Header().Set("X-Sum", r.URL.Path)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(r.URL.Path)))
		io.WriteString(w, r.URL.Path)
	}, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				path := fmt.Sprintf("/%d/%d", g, i)
				if i%3 == 0 {
					path += "/chunked"
				}
				x := &httpfwd.Exchange{}
				rec := httptest.NewRecorder()
				x.Init(rec)
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				if err := (&httpfwd.Forwarder{}).Forward(rec, req, req, c, x); err != nil {
					t.Error(err)
					return
				}
				res := rec.Result()
				if got := rec.Body.String(); got != path || res.Header.Get("X-Path") != path {
					t.Errorf("%s: body %q, X-Path %q", path, got, res.Header.Get("X-Path"))
					return
				}
				if strings.HasSuffix(path, "/chunked") && res.Trailer.Get("X-Sum") != path {
					t.Errorf("%s: trailers %v", path, res.Trailer)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := conns.Load(); n > 8 {
		t.Errorf("%d connections for 8 callers: the answers' connections were not reused", n)
	}
}
