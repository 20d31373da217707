package connlimit

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// echo serves ln: each connection gets "ok\n" and is held until the client closes it.
func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.WriteString(c, "ok\n")
			io.Copy(io.Discard, c)
		}()
	}
}

// answered reports whether a new client gets its greeting within d.
func answered(t *testing.T, addr string, d time.Duration) (net.Conn, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 3)
	_, err = io.ReadFull(c, buf)
	return c, err == nil
}

func TestAcceptWaitsAtTheLimitAndResumesWhenAConnectionCloses(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	ln := New(raw, Params{Max: 3, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	defer ln.Close()
	go echo(ln)
	var held []net.Conn
	for i := 0; i < 3; i++ {
		c, ok := answered(t, ln.Addr().String(), 2*time.Second)
		if !ok {
			t.Fatalf("connection %d under the limit was not served", i+1)
		}
		held = append(held, c)
	}
	fourth, ok := answered(t, ln.Addr().String(), 200*time.Millisecond)
	defer fourth.Close()
	if ok {
		t.Fatal("a fourth connection was served past a limit of 3")
	}
	if got := ln.Open(); got != 3 {
		t.Errorf("Open() = %d, want 3", got)
	}
	held[0].Close()
	_ = fourth.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(fourth, make([]byte, 3)); err != nil {
		t.Fatalf("the waiting connection was not served after one closed: %v", err)
	}
	if !strings.Contains(logs.String(), "connection limit reached") || !strings.Contains(logs.String(), `"max_connections":3`) {
		t.Errorf("no log line about the limit: %s", logs.String())
	}
	for _, c := range held[1:] {
		c.Close()
	}
}

func TestASourceOverItsShareIsClosedAndOthersAreServed(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(raw, Params{Max: 100, PerSource: 2})
	defer ln.Close()
	go echo(ln)
	addr := ln.Addr().(*net.TCPAddr)
	dialFrom := func(src string) (net.Conn, bool) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = io.ReadFull(c, make([]byte, 3))
		return c, err == nil
	}
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, ok := dialFrom("127.0.0.1")
		if !ok {
			t.Fatal("a connection within the source's share was not served")
		}
		held = append(held, c)
	}
	c, ok := dialFrom("127.0.0.1")
	c.Close()
	if ok {
		t.Error("a third connection from one source was served past its share of 2")
	}
	other, ok := dialFrom("127.0.0.2")
	if !ok {
		t.Error("another source was refused while the first held its share")
	}
	other.Close()
	for _, c := range held {
		c.Close()
	}
}

func TestCloseWakesAnAcceptWaitingForASlot(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(raw, Params{Max: 1})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := ln.Accept(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	time.Sleep(50 * time.Millisecond)
	ln.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Accept returned a connection after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept still waits after Close")
	}
}
