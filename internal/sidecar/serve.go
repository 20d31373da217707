package sidecar

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/sniff"
	"egret.dev/egret/internal/splice"
)

// Serve runs the explicit proxy on ln (HTTP_PROXY / HTTPS_PROXY, curl -x) until Close.
func (s *Sidecar) Serve(ln net.Listener) error {
	srv := s.httpServer(nil)
	s.mu.Lock()
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	return s.listenerDied(ln, srv.Serve(ln))
}

func (s *Sidecar) httpServer(connCtx func(context.Context, net.Conn) context.Context) *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       connCtx,
		ErrorLog:          nil,
	}
}

// OriginalDst returns where an intercepted connection was going (intercept.OriginalDst on Linux).
type OriginalDst func(net.Conn) (netip.AddrPort, error)

// ServeTransparent accepts connections that nftables redirected to ln. Each is sniffed: HTTP goes through
// the HTTP path with its Host header; TLS is routed by its SNI; anything else by its original address.
func (s *Sidecar) ServeTransparent(ln net.Listener, orig OriginalDst) error {
	httpConns := &chanListener{addr: ln.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}
	srv := s.httpServer(func(ctx context.Context, c net.Conn) context.Context {
		if t, ok := c.(*tagged); ok {
			return context.WithValue(ctx, origDstKey{}, t.orig)
		}
		return ctx
	})
	s.mu.Lock()
	s.servers = append(s.servers, srv)
	s.closers = append(s.closers, ln.Close, httpConns.Close)
	s.mu.Unlock()
	go srv.Serve(httpConns)
	for {
		conn, err := ln.Accept()
		if err != nil {
			return s.listenerDied(ln, err)
		}
		go s.transparentConn(conn, orig, httpConns)
	}
}

func (s *Sidecar) transparentConn(conn net.Conn, orig OriginalDst, httpConns *chanListener) {
	od, err := orig(conn)
	if err != nil || od.String() == conn.LocalAddr().String() {
		// Not redirected: something dialled the sidecar's port itself. Relaying it would loop.
		s.p.Log.Warn("refusing a connection that was not redirected", "from", conn.RemoteAddr().String(), "err", err)
		conn.Close()
		return
	}
	// Peek at the first bytes; a client that speaks second (SMTP, say) sends nothing, and is TCP.
	_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	head := make([]byte, sniff.HTTPPrefixLen)
	n, _ := io.ReadFull(conn, head)
	_ = conn.SetReadDeadline(time.Time{})
	head = head[:n]
	if n == len(head) && sniff.LooksLikeHTTP(head) {
		select {
		case httpConns.ch <- &tagged{Conn: sniff.PrefixConn(conn, head), orig: od}:
		case <-httpConns.done:
			conn.Close()
		}
		return
	}
	c := &call{st: s.cfg.Load(), origDst: od}
	c.entry = accesslog.Entry{StartTime: time.Now(), Component: accesslog.ComponentSidecar,
		SourceIdentity: c.st.cfg.Workload.Identity.String(), SourceAddress: conn.RemoteAddr().String()}
	defer s.finish(c)
	defer conn.Close()
	var down net.Conn = sniff.PrefixConn(conn, head)
	c.host, c.port = od.Addr().String(), uint32(od.Port())
	if n > 0 && head[0] == 0x16 { // a TLS handshake record: route by SNI
		hello, prefix, err := sniff.ClientHello(io.MultiReader(bytes.NewReader(head), conn))
		if err != nil {
			c.entry.Reason, c.entry.ResponseFlags = "unreadable ClientHello: "+err.Error(), []accesslog.Flag{accesslog.FlagDownstreamProtocolError}
			return
		}
		down = sniff.PrefixConn(conn, prefix)
		if hello.ServerName != "" {
			c.host = hello.ServerName
		}
		c.entry.SNI = hello.ServerName
	}
	c.entry.Authority = net.JoinHostPort(c.host, strconv.Itoa(int(c.port)))
	if !s.decide(nil, c, nil, true) {
		return // refused: closing the connection is the answer for TLS and TCP
	}
	up, err := s.openUpstream(context.Background(), c)
	var denied *gatewayDeniedError
	switch {
	case errors.As(err, &denied):
		c.gatewayDenied(denied.policy) // closing the connection is the answer, as for the sidecar's own denials
		s.local(nil, c, 0, accesslog.FlagPolicyDenied, c.entry.Reason, "")
		return
	case err != nil:
		s.local(nil, c, 0, accesslog.UpstreamFailure(err), err.Error(), "") // still allowed: UF/URX
		return
	}
	defer up.Close()
	in, out, _ := splice.Join(context.Background(), down, up)
	c.entry.BytesReceived, c.entry.BytesSent = in, out
}

// tagged is an intercepted connection with its original destination.
type tagged struct {
	net.Conn
	orig netip.AddrPort
}

// chanListener hands sniffed HTTP connections to an http.Server.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }
