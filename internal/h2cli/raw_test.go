package h2cli_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawConn is the server end of one connection, driven frame by frame: what a broken or malicious
// gateway could send.
type rawConn struct {
	t    testing.TB
	tc   *tls.Conn
	gone <-chan struct{} // closed when the test ends
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

// rawServer serves each connection with script, after the preface and the server's settings.
func rawServer(t testing.TB, p tlsPair, settings []http2.Setting, script func(*rawConn)) string {
	gone := make(chan struct{})
	defer t.Cleanup(func() { close(gone) })
	return listen(t, p, func(tc *tls.Conn) {
		defer tc.Close()
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(tc, preface); err != nil || string(preface) != http2.ClientPreface {
			return
		}
		rc := &rawConn{t: t, tc: tc, gone: gone, fr: http2.NewFramer(tc, tc)}
		rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		rc.enc = hpack.NewEncoder(&rc.hbuf)
		if err := rc.fr.WriteSettings(settings...); err != nil {
			return
		}
		script(rc)
	})
}

// request reads frames until a request's HEADERS, answering SETTINGS and PING on the way; nil when the
// connection ends.
func (rc *rawConn) request() *http2.MetaHeadersFrame {
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			return nil
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			return f
		case *http2.SettingsFrame:
			if !f.IsAck() {
				rc.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				rc.fr.WritePing(true, f.Data)
			}
		}
	}
}

// next reads the next frame that is not SETTINGS, PING or WINDOW_UPDATE; nil when the connection ends.
func (rc *rawConn) next() http2.Frame {
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			return nil
		}
		switch f.(type) {
		case *http2.SettingsFrame, *http2.PingFrame, *http2.WindowUpdateFrame:
			continue
		}
		return f
	}
}

// block encodes header fields (name, value pairs).
func (rc *rawConn) block(kv ...string) []byte {
	rc.hbuf.Reset()
	for i := 0; i < len(kv); i += 2 {
		rc.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), rc.hbuf.Bytes()...)
}

func (rc *rawConn) headers(id uint32, end bool, kv ...string) {
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.block(kv...), EndStream: end, EndHeaders: true})
}
