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
	"sync"
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
	waitFor(t, c, func() bool { return c.writing }) // the goroutine above is the writer, blocked in its write
	fr := http2.NewFramer(io.Discard, cli)
	// Each time the writer's write is read, another frame is already pending, appended by a caller
	// of its own that finds the writer busy and returns, or (after the hand-off, depending on when
	// the new writer's goroutine runs) becomes the writer itself. This goroutine only reads.
	var callers sync.WaitGroup
	for i := 1; i <= maxWriteRounds+2; i++ {
		appended := make(chan struct{})
		callers.Add(1)
		go func() {
			defer callers.Done()
			c.wmu.Lock()
			frame(i)
			close(appended)
			_ = c.flushLocked()
			c.wmu.Unlock()
		}()
		<-appended
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if got := f.(*http2.PingFrame).Data[0]; got != byte(i-1) {
			t.Fatalf("frame %d arrived as %d", i-1, got)
		}
		// Frame i is now being written on its own: wait until the writer took it (so the next
		// frame is a write of its own, one round each, however the goroutines are scheduled).
		waitFor(t, c, func() bool { return c.wb == nil || len(*c.wb) == 0 })
	}
	f, err := fr.ReadFrame() // the last one, written by whoever holds the role now
	if err != nil || f.(*http2.PingFrame).Data[0] != maxWriteRounds+2 {
		t.Fatalf("last frame: %v %v", f, err)
	}
	<-returned
	callers.Wait()
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

// waitFor polls cond under c.wmu until it holds.
func waitFor(t *testing.T, c *conn, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c.wmu.Lock()
		ok := cond()
		c.wmu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting on the writer")
		}
		time.Sleep(100 * time.Microsecond)
	}
}
