package splice

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

type result struct {
	aToB, bToA int64
	err        error
}

// chain sets up client → (a | splice | b) → server over loopback TCP and
// returns the client's and the server's ends. wrapA/wrapB may turn the
// proxy's raw connections into TLS ones; dialClient/acceptServer do the
// same for the outer ends.
type chain struct {
	client, server net.Conn
	a, b           net.Conn
	done           chan result
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func accept(t testing.TB, ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

type tlsSetup struct {
	server *tls.Config
	client *tls.Config
}

func newChain(t testing.TB, ctx context.Context, tc *tlsSetup, opts ...Option) *chain {
	t.Helper()
	front, back := listen(t), listen(t)
	frontCh, backCh := accept(t, front), accept(t, back)
	client, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-frontCh
	b, err := net.Dial("tcp", back.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-backCh
	if tc != nil {
		// The proxy terminates TLS on both legs, as the gateway does with
		// mTLS in and origination out.
		client, a = tls.Client(client, tc.client), tls.Server(a, tc.server)
		b, server = tls.Client(b, tc.client), tls.Server(server, tc.server)
		handshake(t, client, a)
		handshake(t, b, server)
	}
	c := &chain{client: client, server: server, a: a, b: b, done: make(chan result, 1)}
	go func() {
		var r result
		r.aToB, r.bToA, r.err = Join(ctx, a, b, opts...)
		c.done <- r
	}()
	t.Cleanup(func() { client.Close(); server.Close() })
	return c
}

func handshake(t testing.TB, c1, c2 net.Conn) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- c2.(*tls.Conn).Handshake() }()
	if err := c1.(*tls.Conn).Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func (c *chain) wait(t testing.TB) result {
	t.Helper()
	select {
	case r := <-c.done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Join did not return")
		return result{}
	}
}

func testTLS(t testing.TB) *tlsSetup {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "splice.test"}, DNSNames: []string{"splice.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tlsSetup{
		server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		client: &tls.Config{ServerName: "splice.test", RootCAs: pool},
	}
}

func closeWriteOf(t testing.TB, c net.Conn) {
	t.Helper()
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// TestHalfClose: the client sends a request and closes its write side; the
// server reads to EOF, answers and closes; the client still gets the answer.
func TestHalfClose(t *testing.T) {
	for _, tt := range []struct {
		name string
		tls  bool
	}{{"plain TCP", false}, {"TLS on both legs", true}} {
		t.Run(tt.name, func(t *testing.T) {
			var tc *tlsSetup
			if tt.tls {
				tc = testTLS(t)
			}
			c := newChain(t, context.Background(), tc)
			serverGot := make(chan string, 1)
			go func() {
				req, err := io.ReadAll(c.server) // returns only on EOF: needs the half-close to travel
				if err != nil {
					t.Error(err)
				}
				serverGot <- string(req)
				io.WriteString(c.server, "pong after "+string(req))
				closeWriteOf(t, c.server)
			}()
			io.WriteString(c.client, "ping")
			closeWriteOf(t, c.client)
			reply, err := io.ReadAll(c.client)
			if err != nil {
				t.Fatalf("client read after its half-close: %v", err)
			}
			if got := <-serverGot; got != "ping" {
				t.Errorf("server got %q", got)
			}
			if string(reply) != "pong after ping" {
				t.Errorf("client got %q", reply)
			}
			r := c.wait(t)
			if r.err != nil || r.aToB != 4 || r.bToA != int64(len("pong after ping")) {
				t.Errorf("Join = %d, %d, %v; want 4, 15, nil", r.aToB, r.bToA, r.err)
			}
		})
	}
}

func TestBothDirectionsAtOnce(t *testing.T) {
	c := newChain(t, context.Background(), nil)
	const size = 8 << 20
	up, down := make([]byte, size), make([]byte, size)
	rand.Read(up)
	rand.Read(down)
	serverSum := make(chan [32]byte, 1)
	go func() {
		go func() { c.server.Write(down); closeWriteOf(t, c.server) }()
		got, _ := io.ReadAll(c.server)
		serverSum <- sha256.Sum256(got)
	}()
	go func() { c.client.Write(up); closeWriteOf(t, c.client) }()
	got, err := io.ReadAll(c.client)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(down) {
		t.Error("download corrupted")
	}
	if <-serverSum != sha256.Sum256(up) {
		t.Error("upload corrupted")
	}
	if r := c.wait(t); r.err != nil || r.aToB != size || r.bToA != size {
		t.Errorf("Join = %d, %d, %v", r.aToB, r.bToA, r.err)
	}
}

func TestContextCancelClosesBoth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := newChain(t, ctx, nil)
	io.WriteString(c.client, "x")
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c.server, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	r := c.wait(t)
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", r.err)
	}
	if r.aToB != 1 {
		t.Errorf("aToB = %d, want 1", r.aToB)
	}
	c.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.client.Read(buf); err != io.EOF {
		t.Errorf("client read after cancel: %v, want EOF", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	c := newChain(t, context.Background(), nil, IdleTimeout(idle))
	// Traffic in one direction only must keep the whole join alive.
	go io.Copy(io.Discard, c.server)
	for range 20 {
		if _, err := io.WriteString(c.client, "tick"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(idle / 8)
		select {
		case r := <-c.done:
			t.Fatalf("Join ended during traffic: %v", r.err)
		default:
		}
	}
	r := c.wait(t)
	if !errors.Is(r.err, ErrIdleTimeout) {
		t.Fatalf("err = %v, want ErrIdleTimeout", r.err)
	}
	if r.aToB != 80 {
		t.Errorf("aToB = %d, want 80", r.aToB)
	}
}

func TestResetIsReported(t *testing.T) {
	c := newChain(t, context.Background(), nil)
	c.server.(*net.TCPConn).SetLinger(0)
	io.WriteString(c.client, "data the server will not read")
	time.Sleep(50 * time.Millisecond) // let the bytes land in the server's receive buffer
	c.server.Close()                  // unread data + linger 0: the kernel sends RST
	r := c.wait(t)
	if r.err == nil {
		t.Fatal("Join returned nil after the upstream reset the connection")
	}
}

// TestWithoutCloseWrite uses net.Pipe, which cannot half-close: Join must
// still finish once both ends are closed.
func TestWithoutCloseWrite(t *testing.T) {
	client, a := net.Pipe()
	b, server := net.Pipe()
	done := make(chan result, 1)
	go func() {
		var r result
		r.aToB, r.bToA, r.err = Join(context.Background(), a, b)
		done <- r
	}()
	go func() {
		buf := make([]byte, 5)
		io.ReadFull(server, buf)
		server.Write(bytes.ToUpper(buf))
		server.Close()
	}()
	client.Write([]byte("hello"))
	got, _ := io.ReadAll(client)
	client.Close()
	if string(got) != "HELLO" {
		t.Errorf("got %q", got)
	}
	select {
	case r := <-done:
		if r.aToB != 5 || r.bToA != 5 {
			t.Errorf("counts %d, %d", r.aToB, r.bToA)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Join did not return")
	}
}

// noHalfClose has a CloseWrite that cannot work, like sniff.PrefixConn over
// a connection without half-close.
type noHalfClose struct{ net.Conn }

func (noHalfClose) CloseWrite() error { return errors.ErrUnsupported }

func TestCloseWriteUnsupportedFallsBackToClose(t *testing.T) {
	client, a := net.Pipe()
	b, server := net.Pipe()
	done := make(chan result, 1)
	go func() {
		var r result
		r.aToB, r.bToA, r.err = Join(context.Background(), noHalfClose{a}, noHalfClose{b})
		done <- r
	}()
	go func() {
		server.Write([]byte("bye"))
		server.Close()
	}()
	got, err := io.ReadAll(client) // ends only if Join closes a when b reaches EOF
	if err != nil || string(got) != "bye" {
		t.Fatalf("got %q, %v", got, err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.bToA != 3 {
			t.Errorf("Join = %d, %d, %v", r.aToB, r.bToA, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Join did not return")
	}
}
