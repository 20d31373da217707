// Package h2srv is egret's own server side of HTTP/2 for the gateway's mTLS listeners: one goroutine
// per connection reads and dispatches frames, one per stream runs an ordinary http.Handler, and a
// stream's response (headers, body, end of stream) is written by the handler's goroutine itself
// through one buffered writer per connection, so a small answer is one write on the wire.
package h2srv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"egret.dev/egret/internal/h2limit"
)

// Server serves HTTP/2 connections handed over by one http.Server.
type Server struct {
	l   h2limit.Limits
	log *slog.Logger

	maxHeaderBytes int
	prefaceTimeout time.Duration
	idleTimeout    time.Duration

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
}

// Configure makes srv serve HTTP/2 over TLS with this engine and l's limits (the same meaning as
// h2limit.Configure, whose ALPN and TLS checks it reuses); srv.RegisterOnShutdown sends GOAWAY to
// every connection, lets the streams in flight finish, then closes it. log gets one line per
// connection closed for going over the reset budget.
func Configure(srv *http.Server, l h2limit.Limits, log *slog.Logger) (*Server, error) {
	if err := h2limit.Configure(srv, l, log); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{l: l.WithDefaults(), log: log, conns: map[*conn]struct{}{}}
	s.maxHeaderBytes = srv.MaxHeaderBytes
	if s.maxHeaderBytes <= 0 {
		s.maxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	s.prefaceTimeout = srv.ReadHeaderTimeout
	if s.prefaceTimeout <= 0 {
		s.prefaceTimeout = 10 * time.Second
	}
	s.idleTimeout = s.l.IdleTimeout
	if s.idleTimeout == 0 {
		s.idleTimeout = srv.IdleTimeout
	}
	srv.TLSNextProto["h2"] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		ctx := context.Background()
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext() // net/http's per-connection context (ConnContext, addresses)
		}
		s.ServeConn(ctx, hs, c, h)
	}
	srv.RegisterOnShutdown(s.Shutdown)
	return s, nil
}

// ServeConn serves one TLS connection whose handshake chose "h2", until it closes.
func (s *Server) ServeConn(ctx context.Context, hs *http.Server, tc *tls.Conn, h http.Handler) {
	c := newConn(s, ctx, hs, tc, h)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	c.serve()
}

// Shutdown sends GOAWAY to every connection: the streams it already accepted finish, then it closes.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goAwayGracefully()
	}
}

// Conns is how many connections are being served (for tests).
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// connError ends the connection with GOAWAY and the code; streamError resets one stream.
type connError struct {
	code   http2.ErrCode
	reason string
}

func (e connError) Error() string {
	return fmt.Sprintf("http2: connection error %v: %s", e.code, e.reason)
}

var (
	errStreamReset = errors.New("h2srv: stream reset")
	errConnClosed  = errors.New("h2srv: connection closed")
	errBodyClosed  = errors.New("http: invalid Read on closed Body")
	errHandlerDone = errors.New("h2srv: write after the handler returned")
	errResetBudget = errors.New("h2srv: stream reset budget exceeded")
)
