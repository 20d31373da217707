package h2srv_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"egret.dev/egret/internal/h2limit"
	"egret.dev/egret/internal/h2srv"
	"egret.dev/egret/internal/meshtest"
)

// server is an http.Server on loopback serving HTTP/2 with this engine over the gateway's mTLS.
type server struct {
	m    *meshtest.Mesh
	srv  *http.Server
	h2   *h2srv.Server
	addr string
	logs *meshtest.LockedBuffer
}

func startServer(t testing.TB, h http.Handler, tune func(*h2limit.Limits, *http.Server)) *server {
	return startEngine(t, false, h, tune)
}

// startEngine is startServer with x/net's HTTP/2 server instead when xnet is set (for comparisons).
func startEngine(t testing.TB, xnet bool, h http.Handler, tune func(*h2limit.Limits, *http.Server)) *server {
	t.Helper()
	m := meshtest.NewMesh(t)
	s := &server{m: m, logs: &meshtest.LockedBuffer{}}
	s.srv = &http.Server{Handler: h, TLSConfig: m.ServerTLS(meshtest.GatewaySVID), MaxHeaderBytes: 16 << 10,
		ErrorLog: log.New(s.logs, "", 0)}
	var l h2limit.Limits
	if tune != nil {
		tune(&l, s.srv)
	}
	var err error
	if xnet {
		err = h2limit.Configure(s.srv, l, nil)
	} else {
		s.h2, err = h2srv.Configure(s.srv, l, slog.New(slog.NewTextHandler(s.logs, nil)))
	}
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
	})
	return s
}

// client is x/net's own HTTP/2 client, holding the productpage SVID.
func (s *server) client(t testing.TB) *http.Client {
	cert := s.m.SVID(meshtest.Productpage, time.Hour)
	tr := &http2.Transport{
		TLSClientConfig: &tls.Config{
			Certificates:       []tls.Certificate{cert},
			InsecureSkipVerify: true, // verified by SPIFFE ID below
			VerifyConnection: func(cs tls.ConnectionState) error {
				return meshtest.VerifySPIFFE(cs, s.m.Pool, meshtest.GatewaySVID)
			},
		},
		DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
			d := tls.Dialer{Config: cfg}
			return d.DialContext(ctx, network, s.addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// raw is a client speaking frames directly, as an attacker with a mesh SVID would.
type raw struct {
	t      *testing.T
	conn   *tls.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	block  bytes.Buffer
	wmu    sync.Mutex
	dec    *hpack.Decoder
	frames chan http2.Frame
	ended  chan error
}

// dialRaw connects and sends the preface and empty SETTINGS; the server's frames arrive on
// r.frames (copies of the ones the tests look at) until the connection ends.
func (s *server) dialRaw(t *testing.T, settings ...http2.Setting) *raw {
	t.Helper()
	conn := meshtest.DialTLS(t, s.m, s.addr, meshtest.Productpage, "h2")
	r := &raw{t: t, conn: conn, fr: http2.NewFramer(conn, conn), frames: make(chan http2.Frame, 1<<16), ended: make(chan error, 1)}
	r.enc = hpack.NewEncoder(&r.block)
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	r.dec = hpack.NewDecoder(65536, nil)
	go r.readLoop()
	return r
}

func (r *raw) readLoop() {
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.ended <- err
			close(r.frames)
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = r.do(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
			}
			continue
		case *http2.GoAwayFrame:
			g := *f
			r.frames <- &g
		case *http2.RSTStreamFrame:
			c := *f
			r.frames <- &c
		case *http2.HeadersFrame:
			h := &respHeaders{stream: f.StreamID, end: f.StreamEnded(), fields: map[string]string{}}
			fields, _ := r.dec.DecodeFull(f.HeaderBlockFragment())
			for _, hf := range fields {
				h.fields[hf.Name] = hf.Value
			}
			r.frames <- h
		case *http2.DataFrame:
			r.frames <- &dataFrame{stream: f.StreamID, data: append([]byte(nil), f.Data()...), end: f.StreamEnded()}
		case *http2.PingFrame:
			p := *f
			r.frames <- &p
		case *http2.WindowUpdateFrame:
			w := *f
			r.frames <- &w
		}
	}
}

type respHeaders struct {
	http2.Frame
	stream uint32
	fields map[string]string
	end    bool
}

// do writes with the connection's Framer (the reader acks SETTINGS on it too).
func (r *raw) do(f func(*http2.Framer) error) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return f(r.fr)
}

type dataFrame struct {
	http2.Frame
	stream uint32
	data   []byte
	end    bool
}

// headers encodes fields as one header block.
func (r *raw) headerBlock(fields ...string) []byte {
	r.block.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		_ = r.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return append([]byte(nil), r.block.Bytes()...)
}

var getFields = []string{":method", "GET", ":scheme", "https", ":authority", "www.google.com", ":path", "/"}

func (r *raw) request(stream uint32, end bool, fields ...string) {
	r.t.Helper()
	if fields == nil {
		fields = getFields
	}
	block := r.headerBlock(fields...)
	if err := r.do(func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: block, EndStream: end, EndHeaders: true})
	}); err != nil {
		r.t.Fatal(err)
	}
}

// next waits for a frame the test wants; nil when the connection ended first.
func (r *raw) next(want func(http2.Frame) bool) http2.Frame {
	r.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-r.frames:
			if !ok {
				return nil
			}
			if want(f) {
				return f
			}
		case <-timeout:
			r.t.Fatal("no such frame from the server within 10s")
		}
	}
}

func (r *raw) goAway() *http2.GoAwayFrame {
	r.t.Helper()
	f := r.next(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	if f == nil {
		return nil
	}
	return f.(*http2.GoAwayFrame)
}

func (r *raw) rst(stream uint32) *http2.RSTStreamFrame {
	r.t.Helper()
	f := r.next(func(f http2.Frame) bool {
		rs, ok := f.(*http2.RSTStreamFrame)
		return ok && rs.StreamID == stream
	})
	if f == nil {
		return nil
	}
	return f.(*http2.RSTStreamFrame)
}

// status is the :status of the first HEADERS on stream; "" when the connection ended first.
func (r *raw) status(stream uint32) string {
	r.t.Helper()
	f := r.next(func(f http2.Frame) bool { h, ok := f.(*respHeaders); return ok && h.stream == stream })
	if f == nil {
		return ""
	}
	return f.(*respHeaders).fields[":status"]
}

// waitEnd waits for the connection to end.
func (r *raw) waitEnd() bool {
	for {
		select {
		case _, ok := <-r.frames:
			if !ok {
				return true
			}
		case <-time.After(10 * time.Second):
			return false
		}
	}
}
