package httpfwd

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// benchAnswer is a typical host's answer: a dozen fields and a 1 KiB body.
var benchAnswer = "HTTP/1.1 200 OK\r\n" +
	"Date: Thu, 03 Dec 2026 15:00:00 GMT\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"Content-Length: 1024\r\n" +
	"Server: nginx\r\n" +
	"Cache-Control: private, max-age=0\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"Etag: \"5e1f-abc\"\r\n" +
	"Strict-Transport-Security: max-age=31536000\r\n" +
	"X-Content-Type-Options: nosniff\r\n" +
	"X-Request-Id: 0b5c2f5e-7d1f-4f5e-9a4e-3c1d2b3a4f5e\r\n" +
	"X-Backend-Shard: eu-3\r\n" +
	"\r\n" + strings.Repeat("x", 1024)

// BenchmarkReadAnswer reads a typical answer's head and body the three ways: net/http's ReadResponse
// (what the client did before), the fast path with a response per answer (RoundTrip), and with the
// connection's pooled response (Forward).
//
//	go test ./internal/httpfwd -run '^$' -bench ReadAnswer -benchmem
func BenchmarkReadAnswer(b *testing.B) {
	data := []byte(benchAnswer)
	req := &http.Request{Method: http.MethodGet}
	buf := make([]byte, 32<<10)
	src := bytes.NewReader(data)
	br := bufio.NewReaderSize(src, 4096)
	drain := func(b *testing.B, r io.Reader) {
		for {
			_, err := r.Read(buf)
			if err == io.EOF {
				return
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("net-http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(data)
			br.Reset(src)
			resp, err := http.ReadResponse(br, req)
			if err != nil {
				b.Fatal(err)
			}
			drain(b, resp.Body)
		}
	})
	for _, pooled := range []bool{false, true} {
		name := "fast"
		if pooled {
			name = "fast-pooled"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			rr := respReader{br: br}
			var f framing
			for b.Loop() {
				src.Reset(data)
				br.Reset(src)
				if _, fast, err := rr.readHead(req, pooled, &f); err != nil || !fast {
					b.Fatal(fast, err)
				}
				drain(b, &f)
			}
		})
	}
}
