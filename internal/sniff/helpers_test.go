package sniff

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// recordingConn keeps every byte crypto/tls's server reads, so we capture a
// real ClientHello exactly as it came off the wire.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

var errStop = errors.New("captured")

// captureHello runs a real crypto/tls client with cfg against a crypto/tls
// server that stops after reading the ClientHello. It returns the raw bytes
// and the server's own parse of them, which serves as the test oracle.
func captureHello(tb testing.TB, cfg *tls.Config) ([]byte, *tls.ClientHelloInfo) {
	tb.Helper()
	cli, srv := net.Pipe()
	defer cli.Close()
	deadline := time.Now().Add(5 * time.Second)
	cli.SetDeadline(deadline)
	srv.SetDeadline(deadline)
	go func() {
		tls.Client(cli, cfg).Handshake() // fails once the server gives up
	}()
	rec := &recordingConn{Conn: srv}
	var info *tls.ClientHelloInfo
	err := tls.Server(rec, &tls.Config{GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
		copied := *chi
		info = &copied
		return nil, errStop
	}}).Handshake()
	srv.Close()
	if info == nil {
		tb.Fatalf("server did not see a ClientHello: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return bytes.Clone(rec.buf.Bytes()), info
}

// clientHelloBody builds a minimal ClientHello body with the given raw
// extensions (each already type+length+data encoded).
func clientHelloBody(exts ...[]byte) []byte {
	b := []byte{3, 3}
	b = append(b, make([]byte, 32)...) // random
	b = append(b, 0)                   // session id
	b = append(b, 0, 2, 0x13, 0x01)    // one cipher suite
	b = append(b, 1, 0)                // null compression
	var all []byte
	for _, e := range exts {
		all = append(all, e...)
	}
	b = append(b, byte(len(all)>>8), byte(len(all)))
	return append(b, all...)
}

func ext(typ int, data []byte) []byte {
	return append([]byte{byte(typ >> 8), byte(typ), byte(len(data) >> 8), byte(len(data))}, data...)
}

func sniExt(names ...string) []byte {
	var list []byte
	for _, n := range names {
		list = append(list, 0, byte(len(n)>>8), byte(len(n)))
		list = append(list, n...)
	}
	return ext(extServerName, append([]byte{byte(len(list) >> 8), byte(len(list))}, list...))
}

func alpnExt(protos ...string) []byte {
	var list []byte
	for _, p := range protos {
		list = append(list, byte(len(p)))
		list = append(list, p...)
	}
	return ext(extALPN, append([]byte{byte(len(list) >> 8), byte(len(list))}, list...))
}

// records wraps a ClientHello body in a handshake header and splits it into
// records of at most frag bytes each.
func records(body []byte, frag int) []byte {
	hs := append([]byte{handshakeClientHelo, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	var out []byte
	for len(hs) > 0 {
		n := min(frag, len(hs))
		out = append(out, contentHandshake, 3, 1, byte(n>>8), byte(n))
		out = append(out, hs[:n]...)
		hs = hs[n:]
	}
	return out
}
