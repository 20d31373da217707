package h2srv_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"egret.dev/egret/internal/h2limit"
	"egret.dev/egret/internal/meshtest"
)

// FuzzClientFrames sends whatever bytes a client with a mesh SVID likes after the preface and its
// SETTINGS: the server must not panic, must end or keep the connection within its limits, and must go on
// serving other connections.
//
//	go test ./internal/h2srv -run '^$' -fuzz FuzzClientFrames -fuzztime 3m
func FuzzClientFrames(f *testing.F) {
	frames := func(write func(fr *http2.Framer, block func(kv ...string) []byte)) []byte {
		var out, hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		fr := http2.NewFramer(&out, nil)
		write(fr, func(kv ...string) []byte {
			hb.Reset()
			for i := 0; i < len(kv); i += 2 {
				_ = enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
			}
			return append([]byte(nil), hb.Bytes()...)
		})
		return out.Bytes()
	}
	get := []string{":method", "GET", ":scheme", "https", ":authority", "www.google.com", ":path", "/"}
	f.Add(frames(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(get...), EndHeaders: true, EndStream: true})
	}))
	f.Add(frames(func(fr *http2.Framer, block func(...string) []byte) {
		post := []string{":method", "POST", ":scheme", "https", ":authority", "a", ":path", "/", "content-length", "4", "trailer", "x-t"}
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(post...), EndHeaders: true})
		_ = fr.WriteData(1, false, []byte("body"))
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block("x-t", "1"), EndHeaders: true, EndStream: true})
	}))
	f.Add(frames(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block(get[:4]...), EndHeaders: false})
		_ = fr.WriteContinuation(3, true, block(get[4:]...))
		_ = fr.WriteRSTStream(3, http2.ErrCodeCancel)
		_ = fr.WriteWindowUpdate(0, 1<<30)
		_ = fr.WritePing(false, [8]byte{1})
		_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
	}))
	f.Add(frames(func(fr *http2.Framer, block func(...string) []byte) {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":method", "CONNECT", ":authority", "api.example.com:443"), EndHeaders: true})
		_ = fr.WriteData(1, false, []byte("tunnelled"))
		_ = fr.WritePriority(1, http2.PriorityParam{StreamDep: 1})
		_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	}))
	s := startServer(f, http.HandlerFunc(echo), func(l *h2limit.Limits, _ *http.Server) {
		l.MaxConcurrentStreams = 8
		l.MaxUploadBufferPerStream = 1 << 10
		l.MaxUploadBufferPerConnection = 4 << 10
		l.WriteByteTimeout = time.Second
	})
	good := s.client(f)
	// The fuzzing client holds a mesh SVID (an attacker inside the mesh); it does not check the server.
	conf := &tls.Config{Certificates: []tls.Certificate{s.m.SVID(meshtest.Productpage, time.Hour)}, InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := tls.Dial("tcp", s.addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte(http2.ClientPreface))
		_ = http2.NewFramer(c, nil).WriteSettings()
		_, _ = c.Write(data)
		// Whatever the server answers, until it closes the connection or goes quiet.
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		_, _ = io.Copy(io.Discard, c)
		resp, err := good.Get("https://www.google.com/")
		if err != nil {
			t.Fatalf("after the fuzzed connection, a good request failed: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("after the fuzzed connection, a good request got %d", resp.StatusCode)
		}
	})
}
