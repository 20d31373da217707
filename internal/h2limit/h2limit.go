// Package h2limit bounds what one client can make an HTTP/2 server do over one connection: the Go
// server's own limits, set on purpose, and a budget of stream resets after which the connection is
// closed with GOAWAY (HTTP/2 rapid reset, CVE-2023-44487).
package h2limit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// Limits are an HTTP/2 server's per-connection bounds. Zero values take the defaults below.
type Limits struct {
	// MaxConcurrentStreams is advertised in SETTINGS; a client that opens more gets the extra streams
	// refused (RST_STREAM PROTOCOL_ERROR from x/net's server, REFUSED_STREAM from internal/h2srv; RFC
	// 9113 §5.1.2), and at most this many handlers run.
	MaxConcurrentStreams uint32
	// MaxReadFrameSize is the largest frame the server accepts (SETTINGS_MAX_FRAME_SIZE).
	MaxReadFrameSize uint32
	// MaxUploadBufferPerStream and MaxUploadBufferPerConnection are the flow-control windows: how
	// much request body the server buffers before the client must wait.
	MaxUploadBufferPerStream     int32
	MaxUploadBufferPerConnection int32
	// MaxHeaderTableSize bounds the HPACK dynamic table the client may make the server keep.
	MaxHeaderTableSize uint32
	// IdleTimeout closes a connection with no open stream (GOAWAY); 0 keeps the http.Server's.
	IdleTimeout time.Duration
	// PingAfter pings a connection that has been silent this long, and PingTimeout closes it when
	// the ping is not answered, so a dead peer does not hold its streams forever.
	PingAfter   time.Duration
	PingTimeout time.Duration
	// WriteByteTimeout closes a connection that accepts no byte for this long (a client that stops
	// reading cannot park the server's writes).
	WriteByteTimeout time.Duration
	// ResetBurst and ResetsPerSecond are the reset budget, a token bucket per connection: each
	// stream the client resets before the server answered it, and each stream the server refused
	// because the client went over MaxConcurrentStreams, takes a token. An empty bucket closes the
	// connection with GOAWAY ENHANCE_YOUR_CALM.
	ResetBurst      int
	ResetsPerSecond float64
}

// Defaults. A sidecar multiplexes every request of its workload on one connection, so the stream
// limit is generous; a well-behaved client cancels a stream before its answer only now and then
// (its caller gave up), while a rapid reset attack does so thousands of times a second.
const (
	DefaultMaxConcurrentStreams         = 1000
	DefaultMaxReadFrameSize             = 64 << 10
	DefaultMaxUploadBufferPerStream     = 256 << 10
	DefaultMaxUploadBufferPerConnection = 4 << 20
	DefaultMaxHeaderTableSize           = 4096
	DefaultPingAfter                    = time.Minute
	DefaultPingTimeout                  = 15 * time.Second
	DefaultWriteByteTimeout             = 30 * time.Second
	DefaultResetBurst                   = 500
	DefaultResetsPerSecond              = 50
)

// WithDefaults is l with every zero field set to its default (for other engines serving l).
func (l Limits) WithDefaults() Limits {
	l.defaults()
	return l
}

func (l *Limits) defaults() {
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if l.MaxReadFrameSize == 0 {
		l.MaxReadFrameSize = DefaultMaxReadFrameSize
	}
	if l.MaxUploadBufferPerStream == 0 {
		l.MaxUploadBufferPerStream = DefaultMaxUploadBufferPerStream
	}
	if l.MaxUploadBufferPerConnection == 0 {
		l.MaxUploadBufferPerConnection = DefaultMaxUploadBufferPerConnection
	}
	if l.MaxHeaderTableSize == 0 {
		l.MaxHeaderTableSize = DefaultMaxHeaderTableSize
	}
	if l.PingAfter == 0 {
		l.PingAfter = DefaultPingAfter
	}
	if l.PingTimeout == 0 {
		l.PingTimeout = DefaultPingTimeout
	}
	if l.WriteByteTimeout == 0 {
		l.WriteByteTimeout = DefaultWriteByteTimeout
	}
	if l.ResetBurst == 0 {
		l.ResetBurst = DefaultResetBurst
	}
	if l.ResetsPerSecond == 0 {
		l.ResetsPerSecond = DefaultResetsPerSecond
	}
}

// Configure makes srv serve HTTP/2 over TLS with l's limits and the reset budget. Call it before
// srv serves; srv.HTTP2 must be unset (its values would override l's). log gets one line per
// connection closed for going over the budget.
func Configure(srv *http.Server, l Limits, log *slog.Logger) error {
	if srv.HTTP2 != nil {
		return errors.New("h2limit: http.Server.HTTP2 is set; give the limits to h2limit.Configure instead")
	}
	l.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h2 := &http2.Server{
		MaxConcurrentStreams:         l.MaxConcurrentStreams,
		MaxReadFrameSize:             l.MaxReadFrameSize,
		MaxUploadBufferPerStream:     l.MaxUploadBufferPerStream,
		MaxUploadBufferPerConnection: l.MaxUploadBufferPerConnection,
		MaxDecoderHeaderTableSize:    l.MaxHeaderTableSize,
		MaxEncoderHeaderTableSize:    l.MaxHeaderTableSize,
		IdleTimeout:                  l.IdleTimeout,
		ReadIdleTimeout:              l.PingAfter,
		PingTimeout:                  l.PingTimeout,
		WriteByteTimeout:             l.WriteByteTimeout,
	}
	// ConfigureServer wires graceful shutdown (GOAWAY on srv.Shutdown) and ALPN; then its "h2"
	// hand-off is replaced by one that serves the same connection through the reset guard.
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return fmt.Errorf("h2limit: %w", err)
	}
	srv.TLSNextProto["h2"] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext() // net/http's per-connection context (ConnContext, addresses)
		}
		g := newGuarded(c, l, log)
		h2.ServeConn(g, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: hs})
	}
	return nil
}
