// Package h2cli is the sidecar's HTTP/2 client for the hop to a gateway: a pool of mTLS connections on
// which the caller's goroutine writes each request (headers and a small body in one flush) and one
// reader goroutine per connection delivers the answers.
package h2cli

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Transport is a pool of HTTP/2 connections to one server (a gateway listener). It is an
// http.RoundTripper; requests on it may run concurrently.
type Transport struct {
	// Dial connects and completes the TLS handshake (which must negotiate "h2"). Its error is returned
	// to the caller wrapped so that NotSent reports true and errors.As still finds it.
	Dial func(ctx context.Context) (*tls.Conn, error)
	// PingAfter is how long a connection may go without a frame from the server before it is pinged;
	// PingTimeout is how long the ping may go unanswered before the connection is closed and its
	// streams fail. Zero PingAfter turns pinging off.
	PingAfter, PingTimeout time.Duration
	// IdleTimeout closes a connection that carried no stream for this long; zero keeps it.
	IdleTimeout time.Duration
	// MaxHeaderListSize bounds a response's header (and trailer) block, decoded; default 1 MiB.
	MaxHeaderListSize uint32
	// StreamWindow and ConnWindow are the receive windows the server may fill before the caller reads:
	// they bound the memory one stream and one connection hold; defaults 1 MiB and 16 MiB.
	StreamWindow, ConnWindow int32
	// SettingsTimeout bounds waiting for the server's SETTINGS on a new connection; default 10 s.
	SettingsTimeout time.Duration

	mu      sync.Mutex
	conns   []*conn
	dialing *dialCall
	closed  bool
}

var _ http.RoundTripper = (*Transport)(nil)

type dialCall struct {
	done chan struct{}
	err  error
}

// maxRetries bounds how often a request the server did not process is sent again.
const maxRetries = 3

// RoundTrip sends r on a pooled connection and returns the response once its header arrives. A request
// the server did not process (GOAWAY, REFUSED_STREAM) is sent again, up to maxRetries times (after the
// first, with a short back-off), when its body can be sent again; a connection that sent GOAWAY takes no
// new stream, so the retry goes to another.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	req, err := newRequest(r)
	if err != nil {
		closeBody(r)
		return nil, err
	}
	retries := 0
	for {
		c, err := t.conn(r.Context())
		if err != nil {
			req.release()
			closeBody(r)
			return nil, err
		}
		resp, err := c.roundTrip(req)
		switch {
		case err == nil:
			return resp, nil
		case errors.Is(err, errConnUnusable):
			continue // the connection filled up or went away before the stream was opened
		case retries < maxRetries && NotSent(err) && req.rewindable() && backoff(r.Context(), retries):
			retries++
			continue
		}
		req.release()
		closeBody(r)
		return nil, err
	}
}

// conn returns a connection with room for a new stream, dialing one (once for all waiting callers)
// when none has.
func (t *Transport) conn(ctx context.Context) (*conn, error) {
	dials := 0
	t.mu.Lock()
	for {
		if t.closed {
			t.mu.Unlock()
			return nil, &notSentError{errors.New("transport closed")}
		}
		for _, c := range t.conns {
			if c.canTake() {
				t.mu.Unlock()
				return c, nil
			}
		}
		if d := t.dialing; d != nil {
			t.mu.Unlock()
			select {
			case <-d.done:
			case <-ctx.Done():
				return nil, &notSentError{ctx.Err()}
			}
			if d.err != nil && ctx.Err() == nil && !errors.Is(d.err, context.Canceled) && !errors.Is(d.err, context.DeadlineExceeded) {
				return nil, d.err
			}
			t.mu.Lock()
			continue
		}
		if dials == 3 {
			t.mu.Unlock()
			return nil, &notSentError{errors.New("every new connection went away at once (GOAWAY)")}
		}
		dials++
		d := &dialCall{done: make(chan struct{})}
		t.dialing = d
		t.mu.Unlock()
		c, err := t.dial(ctx)
		t.mu.Lock()
		t.dialing = nil
		d.err = err
		close(d.done)
		if err != nil {
			t.mu.Unlock()
			return nil, err
		}
		if t.closed {
			t.mu.Unlock()
			c.closeWith(errors.New("transport closed"))
			return nil, &notSentError{errors.New("transport closed")}
		}
		if c.canTake() {
			t.conns = append(t.conns, c) // a connection closed meanwhile has called remove already
		}
	}
}

func (t *Transport) dial(ctx context.Context) (*conn, error) {
	tc, err := t.Dial(ctx)
	if err != nil {
		return nil, &notSentError{err}
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		tc.Close()
		return nil, &notSentError{errors.New("the server did not negotiate h2 (ALPN " + quote(p) + ")")}
	}
	c := newConn(t, tc)
	if err := c.handshake(ctx); err != nil {
		c.closeWith(err)
		return nil, &notSentError{err}
	}
	return c, nil
}

// backoff waits before retry n+1 (none before the first), false when the caller gave up meanwhile.
func backoff(ctx context.Context, n int) bool {
	if n == 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(time.Duration(n) * 10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func quote(s string) string { return "\"" + s + "\"" }

// remove takes a connection out of the pool (it is closing, or going away).
func (t *Transport) remove(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.conns {
		if x == c {
			t.conns = append(t.conns[:i], t.conns[i+1:]...)
			return
		}
	}
}

// CloseIdleConnections closes the connections that carry no stream now.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	cs := append([]*conn(nil), t.conns...)
	t.mu.Unlock()
	for _, c := range cs {
		c.closeIfIdle()
	}
}

// Close closes every connection, failing the streams on them, and refuses new requests.
func (t *Transport) Close() error {
	t.mu.Lock()
	t.closed = true
	cs := t.conns
	t.conns = nil
	t.mu.Unlock()
	for _, c := range cs {
		c.closeWith(errors.New("transport closed"))
	}
	return nil
}

func (t *Transport) maxHeaderListSize() uint32 {
	if t.MaxHeaderListSize == 0 {
		return 1 << 20
	}
	return t.MaxHeaderListSize
}

func (t *Transport) streamWindow() int32 {
	if t.StreamWindow <= 0 {
		return 1 << 20
	}
	return t.StreamWindow
}

func (t *Transport) connWindow() int32 {
	if t.ConnWindow < 65535 {
		return 16 << 20
	}
	return t.ConnWindow
}

func (t *Transport) settingsTimeout() time.Duration {
	if t.SettingsTimeout <= 0 {
		return 10 * time.Second
	}
	return t.SettingsTimeout
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}
