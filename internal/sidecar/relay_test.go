package sidecar_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// relay stands in front of a real gateway on its own loopback port, so a test can make that gateway die
// the ways gateways die: killed (listener and every connection closed, so connects are refused), frozen
// (connections accepted but nothing relayed either way: a TLS handshake never answered, a pooled
// connection gone silent, as behind a black-holing firewall or a stopped process), and back again on the
// same address.
type relay struct {
	t      testing.TB
	target string
	addr   string

	mu     sync.Mutex
	cond   *sync.Cond
	ln     net.Listener
	frozen bool
	conns  map[net.Conn]bool
}

func newRelay(t testing.TB, target string) *relay {
	t.Helper()
	r := &relay{t: t, target: target, conns: map[net.Conn]bool{}}
	r.cond = sync.NewCond(&r.mu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.kill)
	return r
}

func (r *relay) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.handle(c)
		}
	}()
}

func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		c.Close()
		return false
	}
	r.conns[c] = true
	return true
}

func (r *relay) handle(down net.Conn) {
	if !r.track(down) {
		return
	}
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		down.Close()
		return
	}
	if !r.track(up) {
		down.Close()
		return
	}
	go r.pipe(up, down)
	r.pipe(down, up)
}

// pipe copies src to dst, holding every chunk while the relay is frozen.
func (r *relay) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		r.mu.Lock()
		for r.frozen {
			r.cond.Wait()
		}
		r.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				return
			}
			return
		}
	}
}

// kill closes the listener and every connection: connects are refused until revive.
func (r *relay) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
	r.conns = map[net.Conn]bool{}
	r.frozen = false
	r.cond.Broadcast()
}

// freeze stops relaying: new connections are accepted and never answered, open ones go silent.
func (r *relay) freeze() {
	r.mu.Lock()
	r.frozen = true
	r.mu.Unlock()
}

// revive brings the gateway back on the same address, relaying again.
func (r *relay) revive() {
	r.t.Helper()
	r.mu.Lock()
	killed := r.ln == nil
	r.frozen = false
	r.cond.Broadcast()
	r.mu.Unlock()
	if !killed {
		return
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port was just closed; it is free again at once on Linux
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("relay: listening again on %s: %v", r.addr, err)
	}
	r.serve(ln)
}
