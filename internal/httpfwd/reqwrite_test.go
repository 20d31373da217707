package httpfwd

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// writeHead must write the very bytes Request.Write does, or leave the request to it.
func TestWriteHeadWritesWhatRequestWriteWrites(t *testing.T) {
	req := func(method, target string, edit func(*http.Request)) *http.Request {
		r, err := http.NewRequest(method, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(r)
		}
		return r
	}
	tests := []struct {
		name string
		r    *http.Request
		own  bool // written by writeHead, not left to Request.Write
	}{
		{"a GET with headers, several values, spaces to trim", req("GET", "https://www.google.com/a/b?x=1&y=2", func(r *http.Request) {
			r.Header["User-Agent"] = []string{""}
			r.Header.Set("X-Request-Id", "abc")
			r.Header["Accept"] = []string{" text/html ", "*/*"}
			r.Header.Set("Zeta", "z")
		}), true},
		{"Go's User-Agent when none is set", req("GET", "http://h.example.com/", nil), true},
		{"the caller's User-Agent, trimmed", req("GET", "http://h.example.com/", func(r *http.Request) { r.Header.Set("User-Agent", "  curl/8 ") }), true},
		{"a blank User-Agent is sent blank", req("GET", "http://h.example.com/", func(r *http.Request) { r.Header.Set("User-Agent", "   ") }), true},
		{"HEAD", req("HEAD", "http://h.example.com/x", nil), true},
		{"DELETE", req("DELETE", "http://h.example.com/x", nil), true},
		{"a POST without a body gets a zero Content-Length", req("POST", "http://h.example.com/x", nil), true},
		{"a PATCH without a body too", req("PATCH", "http://h.example.com/x", nil), true},
		{"OPTIONS", req("OPTIONS", "http://h.example.com/x", nil), true},
		{"a path to escape", req("GET", "http://h.example.com/a%20b/c", nil), true},
		{"an empty query kept", req("GET", "http://h.example.com/p?", nil), true},
		{"a request that closes", req("GET", "http://h.example.com/", func(r *http.Request) { r.Close = true }), true},
		{"Host apart from the URL, with a port", req("GET", "http://10.0.0.1:8443/", func(r *http.Request) { r.Host = "www.google.com:443" }), true},
		{"an IPv6 host", req("GET", "http://[::1]:80/", nil), true},
		{"headers excluded as Request.Write excludes them", req("GET", "http://h.example.com/", func(r *http.Request) {
			r.Header.Set("Host", "evil.example.com")
			r.Header.Set("Content-Length", "99")
			r.Header.Set("Transfer-Encoding", "chunked")
			r.Header.Set("Trailer", "X")
		}), true},
		{"a line break in a value is left to Request.Write", req("GET", "http://h.example.com/", func(r *http.Request) { r.Header["X-Evil"] = []string{"a\r\nInjected: 1"} }), false},
		{"a bad header name is left to Request.Write", req("GET", "http://h.example.com/", func(r *http.Request) { r.Header["Bad Name"] = []string{"v"} }), false},
		{"a non-ASCII host is left to Request.Write", req("GET", "http://h.example.com/", func(r *http.Request) { r.Host = "bücher.example" }), false},
		{"a body is left to Request.Write", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://h.example.com/", bytes.NewReader([]byte("x")))
			return r
		}(), false},
		{"an opaque URL is left to Request.Write", req("GET", "http://h.example.com/", func(r *http.Request) { r.URL = &url.URL{Scheme: "http", Opaque: "//h.example.com/o"} }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			if err := tc.r.Write(&want); err != nil && tc.own {
				t.Fatal(err)
			}
			bw := bufio.NewWriter(&got)
			own := writeHead(bw, tc.r)
			bw.Flush()
			if own != tc.own {
				t.Fatalf("writeHead took it: %v, want %v", own, tc.own)
			}
			if own && got.String() != want.String() {
				t.Errorf("writeHead wrote\n%q\nRequest.Write writes\n%q", got.String(), want.String())
			}
			if !own && got.Len() != 0 {
				t.Errorf("writeHead left the request to Request.Write but wrote %q", got.String())
			}
		})
	}
}

// writeHead exists to write a plain request without allocating (Request.Write formats it).
func TestWriteHeadDoesNotAllocate(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://www.example.test/a/b?c=d", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "*/*")
	req.Header.Set("X-Request-Id", "0f1e2d3c")
	bw := bufio.NewWriterSize(io.Discard, 4096)
	if n := testing.AllocsPerRun(100, func() {
		if !writeHead(bw, req) {
			t.Fatal("writeHead left a plain GET to Request.Write")
		}
		bw.Flush()
	}); n != 0 {
		t.Errorf("writeHead allocated %v times per request; want 0", n)
	}
}
