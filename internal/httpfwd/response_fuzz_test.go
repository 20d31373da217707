package httpfwd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// verdict is what a reader made of one answer on a connection: its 1xx answers, the final answer's
// head, body and trailers, and whether the connection could carry the next exchange.
type verdict struct {
	Err           error // reading the head failed
	Infos         []string
	Status        string
	Code          int
	Proto         string
	Header        http.Header
	ContentLength int64
	TE            []string
	Close         bool
	Body          string
	BodyErr       bool
	bodyErr       error // not compared: the texts differ
	Trailer       http.Header
	Reuse         bool
}

// referenceVerdict reads data as client.go did before the fast path: http.ReadResponse for each head
// (at most max1xx informational ones), net/http's body reader to its end, and the connection reused
// when neither side asked to close, the protocol was not switched and nothing is left in the buffer.
func referenceVerdict(src io.Reader, method string) verdict {
	br := bufio.NewReaderSize(src, 4096)
	req := &http.Request{Method: method}
	var v verdict
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return verdict{Err: err}
		}
		if resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != 101 {
			if n >= max1xx {
				return verdict{Err: errTooMany1xx}
			}
			v.Infos = append(v.Infos, fmt.Sprint(resp.StatusCode, resp.Header))
			continue
		}
		b, err := io.ReadAll(resp.Body)
		v.fill(resp, b, err)
		v.Reuse = err == nil && !resp.Close && resp.StatusCode != 101 && br.Buffered() == 0
		return v
	}
}

// fastVerdict reads data with respReader and framing, as the client does; fast reports whether every
// head went through the fast path.
func fastVerdict(src io.Reader, method string, pooled bool) (v verdict, fast bool) {
	br := bufio.NewReaderSize(src, 4096)
	rr := respReader{br: br}
	req := &http.Request{Method: method}
	var f framing
	fast = true
	for n := 0; ; n++ {
		resp, ok, err := rr.readHead(req, pooled, &f)
		fast = fast && ok
		if err != nil {
			return verdict{Err: err}, fast
		}
		if resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != 101 {
			if n >= max1xx {
				return verdict{Err: errTooMany1xx}, fast
			}
			v.Infos = append(v.Infos, fmt.Sprint(resp.StatusCode, resp.Header))
			continue
		}
		b, err := io.ReadAll(&f)
		v.fill(resp, b, err)
		v.Reuse = fast && err == nil && !resp.Close && resp.StatusCode != 101 && br.Buffered() == 0
		return v, fast
	}
}

func (v *verdict) fill(resp *http.Response, body []byte, err error) {
	v.Status, v.Code, v.Proto = resp.Status, resp.StatusCode, resp.Proto
	v.Header = resp.Header.Clone()
	v.ContentLength, v.TE, v.Close = resp.ContentLength, resp.TransferEncoding, resp.Close
	v.Body, v.BodyErr, v.bodyErr = string(body), err != nil, err
	v.Trailer = resp.Trailer.Clone()
}

// stricterThanNetHTTP are the answers the client refuses though net/http takes them.
func stricterThanNetHTTP(err error) bool {
	return errors.Is(err, errFieldNameSpace) || errors.Is(err, errVersion)
}

// checkSameVerdict fails unless the client's reader makes of data what net/http makes of it: both
// refuse it, or the same head, body and trailers. The connection is reused after the same answers,
// but for those the fast path leaves to net/http, whose connection is not reused at all.
func checkSameVerdict(t *testing.T, data []byte, method string) {
	t.Helper()
	want := referenceVerdict(bytes.NewReader(data), method)
	for _, pooled := range []bool{false, true} {
		got, fast := fastVerdict(bytes.NewReader(data), method, pooled)
		if got.Err != nil || want.Err != nil {
			if got.Err == nil || want.Err == nil && !stricterThanNetHTTP(got.Err) {
				t.Fatalf("%s %q (pooled %v):\nclient:  %+v\nnet/http: %+v", method, data, pooled, got, want)
			}
			continue
		}
		if !fast && got.Reuse {
			t.Fatalf("%s %q (pooled %v): a connection is reused after an answer net/http read", method, data, pooled)
		}
		if !fast {
			want.Reuse = false
		}
		if got.BodyErr && !want.BodyErr && stricterThanNetHTTP(got.bodyErr) {
			continue
		}
		got.bodyErr, want.bodyErr = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s %q (pooled %v, fast %v):\nclient:   %+v\nnet/http: %+v", method, data, pooled, fast, got, want)
		}
	}
	// The same bytes arriving one at a time, as a slow host sends them: the head is found across many
	// reads. What is left in the buffer depends on the reads, so reuse is not compared here.
	want = referenceVerdict(iotest.OneByteReader(bytes.NewReader(data)), method)
	got, _ := fastVerdict(iotest.OneByteReader(bytes.NewReader(data)), method, true)
	if got.Err != nil || want.Err != nil {
		if got.Err == nil || want.Err == nil && !stricterThanNetHTTP(got.Err) {
			t.Fatalf("%s %q byte by byte:\nclient:   %+v\nnet/http: %+v", method, data, got, want)
		}
		return
	}
	if got.BodyErr && !want.BodyErr && stricterThanNetHTTP(got.bodyErr) {
		return
	}
	got.bodyErr, want.bodyErr, got.Reuse, want.Reuse = nil, nil, false, false
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %q byte by byte:\nclient:   %+v\nnet/http: %+v", method, data, got, want)
	}
}

// responseSeeds are answers at the edges of HTTP/1.1's framing and field syntax, and the attempts of a
// host that would poison the next answer on a kept-alive connection.
var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-custom-thing: a\r\nX-Custom-Thing: b\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 0005\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length:\t5 \t\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chun\u212aed\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, x-other\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX Sum: 1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Sum: 1\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
	"HTTP/1.1 200 OK\r\n\r\nuntil the connection closes",
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/1.1 200 OK\r\nConnection: clo\u017fe\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nframes",
	"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
	"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 +20 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\n X-Leading: a\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Bad\x01: a\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Obs: caf\xe9\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\n: empty name\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nno colon\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nCache-Control: max-age=1\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Spaces:   \r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",
	"HTTP/1.1 200 OK",
	"",
	"\r\n",
	"HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 4000) + "\r\nContent-Length: 0\r\n\r\n",
}

func FuzzResponseHead(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		checkSameVerdict(t, data, method)
	})
}

func TestResponseReaderAgreesWithNetHTTP(t *testing.T) {
	for _, s := range responseSeeds {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			checkSameVerdict(t, []byte(s), method)
		}
	}
}
