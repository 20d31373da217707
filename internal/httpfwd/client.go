package httpfwd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"
)

// Client sends HTTP/1.1 requests on a keep-alive pool of upstream connections without a goroutine per
// connection: the caller's goroutine writes the request (one flush), reads the answer from the
// connection's buffered reader and, through the response body, copies it; the connection goes back
// to the pool only when the body was read to its end and neither side asked to close. net/http's
// Transport hands every request and answer to a connection's read and write goroutines over channels
// (two context switches or more per request, and about 25 allocations); this does not.
//
// A request with a body is the exception: its body is written by a goroutine of its own while the
// caller reads the answer, so an upstream that answers before it has read the whole body (or echoes it
// as it reads) cannot deadlock the exchange.
//
// Timeouts come from the request's context (or, through Forward, the Exchange's Deadline): the
// deadline becomes the connection's, and the context's cancellation makes the connection's reads and
// writes fail at once.
type Client struct {
	// Dial connects to host:port; callers vet addresses there.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// TLS, when set, is originated on every connection with this configuration, offering only
	// http/1.1 by ALPN; an empty ServerName is the dialled host.
	TLS                 *tls.Config
	TLSHandshakeTimeout time.Duration // 0: 10 s
	MaxIdlePerHost      int           // idle connections kept per address; 0: 1024
	MaxIdle             int           // idle connections kept in all; 0: 4096
	IdleTimeout         time.Duration // an idle connection is closed after this; 0: 90 s

	once    sync.Once
	tlsConf *tls.Config

	mu      sync.Mutex
	idle    map[string][]*conn
	nIdle   int
	sweeper *time.Timer
	retired bool
}

var _ http.RoundTripper = (*Client)(nil)

const (
	maxHeaderBytes = 1 << 20 // an answer's status line and headers (the Transport allows 10 MiB)
	max1xx         = 5       // informational answers before the final one, as net/http
	// staleCheckAfter is how long a connection may sit idle before it is checked for a close from
	// the upstream before reuse; hosts close idle connections after seconds, not milliseconds.
	staleCheckAfter = time.Second
)

// ErrHeadersTooLong is an answer whose status line and headers exceed 1 MiB.
var ErrHeadersTooLong = errors.New("upstream answer's headers exceed 1 MiB")

func (c *Client) init() {
	if c.TLS != nil {
		c.tlsConf = c.TLS.Clone()
		c.tlsConf.NextProtos = []string{"http/1.1"}
	}
	if c.TLSHandshakeTimeout == 0 {
		c.TLSHandshakeTimeout = 10 * time.Second
	}
	if c.MaxIdlePerHost == 0 {
		c.MaxIdlePerHost = 1024
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = 4096
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 90 * time.Second
	}
}

// RoundTrip sends req to req.URL.Host and returns its answer, whose Body must be read to its end or
// closed. A request that failed on a reused connection before the upstream answered anything is sent
// once more on a new connection when that is safe: it has no body and its method is idempotent (or it
// carries an idempotency key), or nothing of it was written.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	return c.roundTrip(req, nil)
}

// roundTrip is RoundTrip with the deadline and trace hooks of x, when x is not nil.
func (c *Client) roundTrip(req *http.Request, x *Exchange) (*http.Response, error) {
	c.once.Do(c.init)
	ctx := req.Context()
	dl, _ := ctx.Deadline()
	trace := httptrace.ContextClientTrace(ctx)
	if x != nil {
		trace = &x.Trace
		if !x.Deadline.IsZero() && (dl.IsZero() || x.Deadline.Before(dl)) {
			dl = x.Deadline
		}
	}
	addr := req.URL.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		port := "80"
		if c.TLS != nil {
			port = "443"
		}
		addr = net.JoinHostPort(addr, port)
	}
	for attempt := 0; ; attempt++ {
		pc, err := c.get(ctx, addr, dl)
		if err != nil {
			return nil, err
		}
		resp, err := pc.roundTrip(req, trace, dl, x)
		if err == nil {
			return resp, nil
		}
		if err := ctxErr(ctx, dl); err != nil {
			return nil, err
		}
		var re *retryable
		if attempt == 0 && errors.As(err, &re) && pc.reused && !isTimeout(re.err) && canRetry(req) {
			continue
		}
		if re != nil {
			return nil, re.err
		}
		return nil, err
	}
}

// ctxErr is why ctx ended, if it has; the connection's deadline (the context's) may pass a moment
// before the context's own timer fires.
func ctxErr(ctx context.Context, dl time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !dl.IsZero() && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// canRetry is net/http's rule: a request without a body whose method is safe to repeat, or that
// carries an idempotency key.
func canRetry(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// retryable is a failure on a connection before any byte of an answer was read.
type retryable struct{ err error }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (e *retryable) Error() string { return e.err.Error() }
func (e *retryable) Unwrap() error { return e.err }

// CloseIdleConnections closes the connections waiting in the pool.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.nIdle = nil, 0
	c.mu.Unlock()
	for _, stack := range idle {
		for _, pc := range stack {
			pc.nc.Close()
		}
	}
}

// Close retires the client: idle connections close now, busy ones when their request ends.
func (c *Client) Close() {
	c.mu.Lock()
	c.retired = true
	c.mu.Unlock()
	c.CloseIdleConnections()
}

// get takes the most recently used idle connection to addr, or dials one.
func (c *Client) get(ctx context.Context, addr string, dl time.Time) (*conn, error) {
	now := time.Now()
	c.mu.Lock()
	for stack := c.idle[addr]; len(stack) > 0; stack = c.idle[addr] {
		pc := stack[len(stack)-1]
		stack[len(stack)-1] = nil
		c.idle[addr] = stack[:len(stack)-1]
		c.nIdle--
		idleFor := now.Sub(pc.idleAt)
		if idleFor >= c.IdleTimeout {
			pc.nc.Close()
			continue
		}
		c.mu.Unlock()
		if idleFor >= staleCheckAfter && !alive(pc.nc) {
			pc.nc.Close()
			c.mu.Lock()
			continue
		}
		pc.reused = true
		return pc, nil
	}
	c.mu.Unlock()
	if !dl.IsZero() {
		// The exchange's deadline bounds the dial and the handshake too.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	return c.dial(ctx, addr)
}

func (c *Client) dial(ctx context.Context, addr string) (*conn, error) {
	nc, err := c.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if c.tlsConf != nil {
		conf := c.tlsConf
		if conf.ServerName == "" {
			conf = conf.Clone()
			conf.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(nc, conf)
		hctx, cancel := context.WithTimeout(ctx, c.TLSHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	pc := &conn{c: c, key: addr, nc: nc}
	pc.abort = func() { nc.SetDeadline(aLongTimeAgo) }
	pc.lr.r = nc
	pc.br = bufio.NewReaderSize(&pc.lr, 4096)
	pc.rr.br = pc.br
	pc.bw = bufio.NewWriterSize(nc, 4096)
	return pc, nil
}

// put returns a connection whose exchange ended cleanly to the pool, or closes it.
func (c *Client) put(pc *conn) {
	if err := pc.nc.SetDeadline(time.Time{}); err != nil {
		pc.nc.Close()
		return
	}
	pc.idleAt = time.Now()
	c.mu.Lock()
	if c.retired || c.nIdle >= c.MaxIdle || len(c.idle[pc.key]) >= c.MaxIdlePerHost {
		c.mu.Unlock()
		pc.nc.Close()
		return
	}
	if c.idle == nil {
		c.idle = make(map[string][]*conn)
	}
	c.idle[pc.key] = append(c.idle[pc.key], pc)
	c.nIdle++
	if c.sweeper == nil {
		c.sweeper = time.AfterFunc(c.IdleTimeout, c.sweep)
	}
	c.mu.Unlock()
}

// sweep closes connections idle for longer than IdleTimeout, and runs again while any are left.
func (c *Client) sweep() {
	now := time.Now()
	var stale []*conn
	c.mu.Lock()
	next := c.IdleTimeout
	for key, stack := range c.idle {
		// Each stack is in the order connections were returned: the oldest first.
		n := 0
		for n < len(stack) && now.Sub(stack[n].idleAt) >= c.IdleTimeout {
			n++
		}
		stale = append(stale, stack[:n]...)
		rest := append(stack[:0], stack[n:]...)
		clear(stack[len(rest):])
		c.nIdle -= n
		if len(rest) == 0 {
			delete(c.idle, key)
			continue
		}
		c.idle[key] = rest
		next = min(next, c.IdleTimeout-now.Sub(rest[0].idleAt))
	}
	if c.nIdle > 0 {
		c.sweeper.Reset(next)
	} else {
		c.sweeper = nil
	}
	c.mu.Unlock()
	for _, pc := range stale {
		pc.nc.Close()
	}
}

// conn is one upstream connection; it carries one exchange at a time.
type conn struct {
	c      *Client
	key    string
	nc     net.Conn
	lr     limitedReader
	br     *bufio.Reader
	rr     respReader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool
	abort  func() // makes the connection's pending reads and writes fail now

	// The exchange in progress.
	stop     func() bool // stops the context's cancellation hook
	writeErr chan error  // the body writer's result, for a request with a body; nil otherwise
	reqBody  io.Closer   // that request's body, closed to stop a writer blocked reading it
	reusable bool
	b        body // the answer's body, for exchanges that release it by closing it
}

// aLongTimeAgo is a deadline that makes every pending read and write on a connection fail now.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip sends req and reads its answer. With an exchange (Forward's), the answer is pooled: the
// connection's own response, header map and body, used again by its next exchange; the caller gives
// them up by closing the body, which hands the connection back.
func (pc *conn) roundTrip(req *http.Request, trace *httptrace.ClientTrace, dl time.Time, x *Exchange) (*http.Response, error) {
	ctx := req.Context()
	if trace != nil && trace.GotConn != nil {
		info := httptrace.GotConnInfo{Conn: pc.nc, Reused: pc.reused, WasIdle: pc.reused}
		if pc.reused {
			info.IdleTime = time.Since(pc.idleAt)
		}
		trace.GotConn(info)
	}
	if !dl.IsZero() {
		pc.nc.SetDeadline(dl)
	}
	pc.stop = context.AfterFunc(ctx, pc.abort)
	pc.writeErr = nil

	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody {
		pc.writeErr = pc.writeWithBody(req)
		pc.reqBody = req.Body
	} else if err := pc.writeNoBody(req); err != nil {
		pc.close()
		return nil, err
	} else if err := pc.bw.Flush(); err != nil {
		pc.close()
		return nil, &retryable{err: err}
	}

	var b *body
	if x != nil {
		b = &pc.b
		*b = body{pc: pc, pooled: true}
	} else {
		b = &body{pc: pc}
	}
	readBefore := pc.lr.total
	resp, fast, err := pc.readResponse(req, trace, x, b)
	if err != nil {
		werr := pc.waitWriter()
		pc.close()
		if werr != nil && !errors.Is(werr, errAborted) {
			err = werr
		}
		if pc.lr.total == readBefore && !hasBody {
			return nil, &retryable{err: err}
		}
		return nil, err
	}
	pc.reusable = fast && !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	resp.Body = b
	return resp, nil
}

// writeNoBody writes a request without a body into the connection's buffer: with writeHead when it
// can, Request.Write otherwise.
func (pc *conn) writeNoBody(req *http.Request) error {
	if writeHead(pc.bw, req) {
		return nil
	}
	return req.Write(pc.bw)
}

// writeWithBody writes a request and its body from a goroutine of its own, so that the answer can be
// read while the body is still being sent. When reading the caller's body fails, the upstream would
// wait for the rest forever: the connection's reads and writes are made to fail at once.
func (pc *conn) writeWithBody(req *http.Request) chan error {
	ch := make(chan error, 1)
	src := &bodySource{rc: req.Body}
	out := *req
	out.Body = src
	go func() {
		err := out.Write(pc.bw)
		if err == nil {
			err = pc.bw.Flush()
		}
		if src.err != nil {
			pc.nc.SetDeadline(aLongTimeAgo)
		}
		ch <- err
	}()
	return ch
}

// bodySource records why reading a request body failed.
type bodySource struct {
	rc  io.ReadCloser
	err error
}

func (b *bodySource) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *bodySource) Close() error { return b.rc.Close() }

var errTooMany1xx = errors.New("upstream sent too many informational (1xx) answers")

var errAborted = errors.New("connection closed by the reader")

// readResponse reads the final answer, passing informational (1xx) ones to the trace's hook or, without
// one, to the exchange's client; fast reports whether the fast path read all of them.
func (pc *conn) readResponse(req *http.Request, trace *httptrace.ClientTrace, x *Exchange, b *body) (resp *http.Response, fast bool, err error) {
	fast = true
	for n := 0; ; n++ {
		pc.lr.n = maxHeaderBytes
		resp, ok, err := pc.rr.readHead(req, b.pooled, &b.f)
		pc.lr.n = -1
		fast = fast && ok
		if err != nil {
			if errors.Is(err, errHeaderLimit) {
				return nil, false, ErrHeadersTooLong
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, fmt.Errorf("reading the upstream's answer: %w", err)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			return resp, fast, nil
		}
		if n >= max1xx {
			return nil, false, errTooMany1xx
		}
		var hook func(int, textproto.MIMEHeader) error
		if trace != nil {
			hook = trace.Got1xxResponse
		}
		if hook == nil && x != nil && x.w != nil {
			hook = x.got1xx
		}
		if hook != nil {
			if err := hook(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, false, err
			}
		}
	}
}

// waitWriter is the body writer's result once the exchange is over (nil without a body). A writer
// still busy then is stopped: the connection's writes fail at once and the caller's body is closed,
// for a writer waiting on the body rather than on the upstream (an upstream that answered early).
func (pc *conn) waitWriter() error {
	if pc.writeErr == nil {
		return nil
	}
	body := pc.reqBody
	pc.reqBody = nil
	select {
	case err := <-pc.writeErr:
		return err
	default:
		pc.nc.SetDeadline(aLongTimeAgo)
		body.Close()
		<-pc.writeErr
		return errAborted
	}
}

// done ends the exchange: the connection returns to the pool when clean is true and nothing else
// rules it out, and is closed otherwise.
func (pc *conn) done(clean bool) {
	if pc.stop != nil && !pc.stop() {
		clean = false // the context ended: the connection's deadline is in the past
	}
	pc.stop = nil
	if werr := pc.waitWriter(); werr != nil {
		clean = false
	}
	if clean && pc.reusable && pc.br.Buffered() == 0 {
		pc.c.put(pc)
		return
	}
	pc.nc.Close()
}

func (pc *conn) close() {
	if pc.stop != nil {
		pc.stop()
		pc.stop = nil
	}
	pc.nc.Close()
}

// body is an answer's body: read to its end, it hands its connection back (a pooled body when it is
// closed); closed early, it closes it (net/http's own body would read the rest first, however long).
type body struct {
	pc     *conn
	f      framing
	pooled bool  // the connection goes back when the body is closed, not at its end
	err    error // why reading ended (io.EOF: the body was read to its end)
	over   bool  // the connection was handed back or closed
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.f.Read(p)
	if err != nil {
		b.err = err
		if err != io.EOF || !b.pooled {
			b.over = true
			b.pc.done(err == io.EOF)
		}
	}
	return n, err
}

func (b *body) Close() error {
	if !b.over {
		b.over = true
		if b.pooled {
			// An idle connection keeps neither the request nor the strings of its last answer.
			b.pc.rr.release()
			b.f = framing{}
		}
		b.pc.done(b.err == io.EOF)
	}
	return nil
}

// limitedReader counts what is read from a connection and, while n >= 0, allows at most n bytes.
type limitedReader struct {
	r     io.Reader
	n     int64
	total int64
}

var errHeaderLimit = errors.New("header limit")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, errHeaderLimit
	}
	if l.n > 0 && int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.total += int64(n)
	if l.n > 0 {
		l.n -= int64(n)
	}
	return n, err
}
