package h2srv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// pipeConn is a conn whose TLS connection runs over net.Pipe, so every write blocks until the
// test reads it: the test decides when a write ends and what is pending meanwhile.
func pipeConn(t *testing.T) (*conn, *tls.Conn) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"gateway.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	// No session tickets: the server would write them after the handshake, into a pipe nobody reads yet.
	srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, SessionTicketsDisabled: true})
	// This test is about the write path only: the client does not check who the server is.
	cli := tls.Client(b, &tls.Config{InsecureSkipVerify: true})
	errc := make(chan error, 1)
	go func() { errc <- cli.Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() }) // not the TLS Close: its alert would wait for a reader
	c := &conn{s: &Server{}, tc: srv}
	c.wcond.L = &c.wmu
	return c, cli
}

// A caller that becomes the writer writes at most maxWriteRounds times for output others keep
// appending, then hands the role to a goroutine of its own and returns; everything still arrives,
// in order.
func TestTheWriterRoleIsHandedOnAfterAFewRounds(t *testing.T) {
	c, cli := pipeConn(t)
	before := handoffs.Load()
	frame := func(i int) {
		c.appendFrame(http2.FramePing, 0, 0, []byte{byte(i), 0, 0, 0, 0, 0, 0, 0})
	}
	c.wmu.Lock()
	frame(0)
	c.wmu.Unlock()
	returned := make(chan struct{})
	go func() {
		c.wmu.Lock()
		_ = c.flushLocked() // the writer: blocks in Write until the test reads
		c.wmu.Unlock()
		close(returned)
	}()
	for { // until the goroutine above is the writer, blocked in its write
		c.wmu.Lock()
		w := c.writing
		c.wmu.Unlock()
		if w {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fr := http2.NewFramer(io.Discard, cli)
	// Each time the writer's write is read, another frame is already pending (appended by a
	// caller that finds the writer busy and returns at once).
	for i := 1; i <= maxWriteRounds+2; i++ {
		c.wmu.Lock()
		frame(i)
		if err := c.flushLocked(); err != nil {
			t.Fatal(err)
		}
		c.wmu.Unlock()
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if got := f.(*http2.PingFrame).Data[0]; got != byte(i-1) {
			t.Fatalf("frame %d arrived as %d", i-1, got)
		}
	}
	f, err := fr.ReadFrame() // the last one, written by whoever holds the role now
	if err != nil || f.(*http2.PingFrame).Data[0] != maxWriteRounds+2 {
		t.Fatalf("last frame: %v %v", f, err)
	}
	<-returned
	if handoffs.Load() == before {
		t.Errorf("the first writer wrote %d rounds for others without handing the role on", maxWriteRounds+2)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.drainLocked()
	if c.writing || c.wb != nil {
		t.Errorf("after the last write: writing=%v, pending=%v", c.writing, c.wb != nil)
	}
}
