package gateway_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// rawH2 is an HTTP/2 client speaking frames directly over mTLS, as an attacker holding a mesh SVID would.
type rawH2 struct {
	conn   *tls.Conn
	fr     *http2.Framer
	wmu    sync.Mutex
	frames chan any // a copy of every frame the server sends, until the connection ends
	ended  chan error
}

func dialRawH2(t *testing.T, m *meshtest.Mesh, addr string) *rawH2 {
	t.Helper()
	conn := meshtest.DialTLS(t, m, addr, meshtest.Productpage, "h2")
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN negotiated %q, want h2", p)
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	c := &rawH2{conn: conn, fr: http2.NewFramer(conn, conn), frames: make(chan any, 100000), ended: make(chan error, 1)}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			f, err := c.fr.ReadFrame()
			if err != nil {
				c.ended <- err
				close(c.frames)
				return
			}
			if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
				v, _ := s.Value(http2.SettingMaxConcurrentStreams)
				c.frames <- serverSettings{maxStreams: v}
				c.wmu.Lock()
				_ = c.fr.WriteSettingsAck()
				c.wmu.Unlock()
				continue
			}
			c.frames <- copyFrame(f)
		}
	}()
	return c
}

// serverSettings is the server's SETTINGS frame, as far as the tests look at it.
type serverSettings struct{ maxStreams uint32 }

// copyFrame keeps what the tests look at: the Framer reuses its frames.
func copyFrame(f http2.Frame) any {
	switch f := f.(type) {
	case *http2.GoAwayFrame:
		g := *f
		return &g
	case *http2.RSTStreamFrame:
		r := *f
		return &r
	case *http2.HeadersFrame:
		h := *f
		return &h
	}
	return nil
}

func (c *rawH2) headers(t *testing.T, stream uint32) error {
	t.Helper()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, hf := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "www.google.com"}, {":path", "/"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
}

func (c *rawH2) reset(stream uint32) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.fr.WriteRSTStream(stream, http2.ErrCodeCancel)
}

func countLines(s, substr string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// Rapid reset (CVE-2023-44487): a mesh client opens and at once resets thousands of streams on one
// connection. The gateway closes that connection with GOAWAY ENHANCE_YOUR_CALM once the reset budget is
// spent, logs it once, and goes on serving everyone else.
func TestRapidResetClosesTheConnectionWithGoAwayAndLogsOnce(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	logs := &meshtest.LockedBuffer{}
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, func(p *gateway.Params) {
		p.Log = slog.New(slog.NewTextHandler(logs, nil))
		p.HTTP2.ResetBurst = 100
		p.HTTP2.ResetsPerSecond = 10
	})

	c := dialRawH2(t, m, gw.Addr)
	sent := 0
	for stream := uint32(1); sent < 5000; stream += 2 {
		if c.headers(t, stream) != nil || c.reset(stream) != nil {
			break // the gateway closed the connection
		}
		sent++
	}

	var goAway *http2.GoAwayFrame
	timeout := time.After(10 * time.Second)
	for goAway == nil {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatalf("the connection ended without GOAWAY: %v (after %d reset streams)", <-c.ended, sent)
			}
			if g, isGoAway := f.(*http2.GoAwayFrame); isGoAway {
				goAway = g
			}
		case <-timeout:
			t.Fatalf("no GOAWAY after %d reset streams", sent)
		}
	}
	if goAway.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY code %v, want ENHANCE_YOUR_CALM", goAway.ErrCode)
	}
	for range c.frames { // drain: the connection must end
	}
	t.Logf("%d streams opened and reset before the gateway closed the connection", sent)
	if sent == 5000 {
		t.Log("every stream was written before the close reached the client (buffers); the GOAWAY still came")
	}

	// Another client (and the same identity on a new connection) is served as before.
	resp, body := get(t, m.Client(meshtest.Reviews, gw.Addr), "https://www.google.com/", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("reviews after the attack: %d %q, want the usual 403", resp.StatusCode, body)
	}
	resp, body = get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com/", nil)
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("productpage after the attack: %d %q, want 200 ok", resp.StatusCode, body)
	}
	if n := countLines(logs.String(), "stream reset budget exceeded"); n != 1 {
		t.Errorf("%d log lines about the reset budget, want exactly 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), meshtest.Productpage) {
		t.Errorf("the log line does not name the peer's identity:\n%s", logs.String())
	}
}

// A client opening more streams than the gateway advertises gets the extra ones refused per RFC 9113
// §5.1.2, and the gateway never runs more handlers than the limit at once.
func TestAStreamFloodBeyondMaxConcurrentStreamsIsRefused(t *testing.T) {
	m := meshtest.NewMesh(t)
	release := make(chan struct{})
	var upstream, peak atomic.Int32
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		n := upstream.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		upstream.Add(-1)
		fmt.Fprint(w, "ok")
	})
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, func(p *gateway.Params) { p.MaxConcurrentStreams = 5 })
	defer close(release)

	c := dialRawH2(t, m, gw.Addr)
	// Wait for the server's SETTINGS (and our ack of it) so the limit is known to both sides.
	for settled := false; !settled; {
		f, ok := <-c.frames
		if !ok {
			t.Fatal("connection ended before SETTINGS")
		}
		if s, isSettings := f.(serverSettings); isSettings {
			if s.maxStreams != 5 {
				t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 5", s.maxStreams)
			}
			settled = true
		}
	}
	time.Sleep(50 * time.Millisecond) // let our SETTINGS ack arrive first, so the answer is PROTOCOL_ERROR
	const streams = 20
	for i := uint32(0); i < streams; i++ {
		if err := c.headers(t, 1+2*i); err != nil {
			t.Fatal(err)
		}
	}
	refused := map[uint32]http2.ErrCode{}
	timeout := time.After(10 * time.Second)
	for len(refused) < streams-5 {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatalf("connection ended: %v", <-c.ended)
			}
			if r, isRST := f.(*http2.RSTStreamFrame); isRST {
				refused[r.StreamID] = r.ErrCode
			}
		case <-timeout:
			t.Fatalf("%d streams refused, want %d", len(refused), streams-5)
		}
	}
	for id, code := range refused {
		if id <= 9 {
			t.Errorf("stream %d (within the limit) was refused", id)
		}
		if code != http2.ErrCodeProtocol && code != http2.ErrCodeRefusedStream {
			t.Errorf("stream %d refused with %v, want PROTOCOL_ERROR or REFUSED_STREAM", id, code)
		}
	}
	meshtest.WaitFor(t, func() bool { return upstream.Load() == 5 })
	if p := peak.Load(); p > 5 {
		t.Errorf("%d requests reached the upstream at once, want at most 5", p)
	}
}

// A sidecar whose certificate is revoked while its pooled HTTP/2 connection stays open gets 403 on
// that connection from the next bundle update on, and the connection is closed so the next request
// needs a new handshake (which the gateway's TLS config refuses for a revoked certificate; this
// test's TLS config does not check, so each request comes on a new connection): one log line per
// connection.
func TestARevokedPeerOnAnOpenConnectionIsRefused(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	logs := &meshtest.LockedBuffer{}
	var revoked atomic.Bool
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, func(p *gateway.Params) {
		p.Log = slog.New(slog.NewTextHandler(logs, nil))
		p.PeerRevoked = func(*x509.Certificate) bool { return revoked.Load() }
	})
	client := m.Client(meshtest.Productpage, gw.Addr)
	if resp, body := get(t, client, "https://www.google.com/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("before revocation: %d %q", resp.StatusCode, body)
	}
	revoked.Store(true)
	for range 3 {
		if resp, body := get(t, client, "https://www.google.com/", nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "RBAC: access denied") {
			t.Fatalf("after revocation: %d %q, want 403", resp.StatusCode, body)
		}
	}
	remotes := map[string]bool{}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "revoked") {
			r := l[strings.Index(l, "remote="):]
			if remotes[r] {
				t.Errorf("the revoked peer was logged twice for one connection:\n%s", logs.String())
			}
			remotes[r] = true
		}
	}
	if len(remotes) != 3 {
		t.Errorf("%d connections logged, want 3 (one per request):\n%s", len(remotes), logs.String())
	}
}
