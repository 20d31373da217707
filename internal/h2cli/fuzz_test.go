package h2cli_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzServerFrames sends whatever bytes as the server's frames after the SETTINGS exchange: the client
// must neither panic nor outlive the caller's deadline.
//
//	go test ./internal/h2cli -run '^$' -fuzz FuzzServerFrames -fuzztime 1m
func FuzzServerFrames(f *testing.F) {
	frames := func(write func(fr *http2.Framer, block func(kv ...string) []byte)) []byte {
		var out, hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		fr := http2.NewFramer(&out, nil)
		write(fr, func(kv ...string) []byte {
			hb.Reset()
			for i := 0; i < len(kv); i += 2 {
				enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
			}
			return append([]byte(nil), hb.Bytes()...)
		})
		return out.Bytes()
	}
	f.Add(frames(func(fr *http2.Framer, block func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "200", "content-length", "2"), EndHeaders: true})
		fr.WriteData(1, true, []byte("ok"))
	}))
	f.Add(frames(func(fr *http2.Framer, block func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "200", "trailer", "x-t"), EndHeaders: true})
		fr.WriteData(1, false, []byte("body"))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("x-t", "1"), EndHeaders: true, EndStream: true})
	}))
	f.Add(frames(func(fr *http2.Framer, block func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "100"), EndHeaders: true})
		fr.WriteWindowUpdate(0, 100)
		fr.WritePing(false, [8]byte{1})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "204"), EndHeaders: false})
		fr.WriteContinuation(1, true, block("x", "y"))
	}))
	f.Add(frames(func(fr *http2.Framer, block func(...string) []byte) {
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		fr.WriteRSTStream(1, http2.ErrCodeRefusedStream)
	}))
	p := newTLSPair(f)
	in := make(chan []byte, 1)
	addr := rawServer(f, p, nil, func(rc *rawConn) {
		if rc.request() == nil {
			return
		}
		select {
		case b := <-in:
			rc.tc.Write(b)
		case <-rc.gone:
			return
		}
		io.Copy(io.Discard, rc.tc)
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := newTransport(t, p, addr)
		in <- data
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://fuzz.example.com/", nil)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := tr.RoundTrip(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatal("the client outlived its caller's deadline")
		}
		tr.Close()
		select { // a request that never reached the server leaves its bytes unread
		case <-in:
		default:
		}
	})
}
