package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"os"
	"strings"
	"syscall"
	"time"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/httpfwd"
	"egret.dev/egret/internal/resolve"
	"egret.dev/egret/internal/splice"
)

type ctxKey struct{}

// serveHTTP forwards one HTTP request to its external host, originating TLS as the service says.
func (h *handler) serveHTTP(w http.ResponseWriter, r *http.Request, rq *request) {
	// The authority the decision reads must be the one the request goes to: a Host header that
	// disagrees with the request target is refused, or policy could be checked on one host and the
	// request sent to another.
	if r.URL.Host != "" && !strings.EqualFold(r.URL.Host, r.Host) {
		h.answer(w, rq, http.StatusBadRequest, accesslog.FlagNoRoute, "Host header "+r.Host+" differs from the request target "+r.URL.Host, "")
		return
	}
	if hh := r.Header.Get("Host"); hh != "" && !strings.EqualFold(hh, r.Host) {
		h.answer(w, rq, http.StatusBadRequest, accesslog.FlagNoRoute, "Host header "+hh+" differs from :authority "+r.Host, "")
		return
	}
	if !h.route(w, r, rq, r.Host, false) {
		return
	}
	up, err := h.g.p.Upstream.forService(rq.st, rq.decision)
	if err != nil {
		h.answer(w, rq, http.StatusServiceUnavailable, accesslog.FlagUpstreamConnFailure, err.Error(), "")
		return
	}
	if up.tls == nil && isTLSProtocol(up.port.Protocol) {
		// The host speaks TLS and the gateway does not originate it: only the caller can, in a tunnel.
		h.answer(w, rq, http.StatusBadRequest, accesslog.FlagDownstreamProtocolError,
			fmt.Sprintf("%s speaks %s and the gateway does not originate TLS for it; open a CONNECT tunnel", rq.decision.Upstream, up.port.Protocol), "")
		return
	}
	rq.cw = countingWriter{ResponseWriter: w}
	rw := &rq.cw
	rq.fw = forwarding{rq: rq, up: up, h: h}
	if httpfwd.Upgrade(r.Header) {
		// Protocol upgrades keep the standard reverse proxy, which carries the switched connection.
		ctx := context.WithValue(r.Context(), ctxKey{}, &rq.fw)
		h.g.proxy().ServeHTTP(rw, r.WithContext(ctx))
	} else {
		h.forward(rw, r, &rq.fw)
	}
	rq.entry.Status = rw.status
	rq.entry.BytesSent = rw.n
	if rq.entry.ResponseCodeDetails == "" {
		rq.entry.ResponseCodeDetails = "via_upstream"
	}
	if r.ContentLength > 0 {
		rq.entry.BytesReceived = r.ContentLength
	}
}

// forwarding travels in the request context from serveHTTP to the reverse proxy's hooks.
type forwarding struct {
	rq *request
	up *upstreamService
	h  *handler
}

// forward sends the request to its upstream with the lean forwarder: the same request edits as the
// reverse proxy's Rewrite below, the same answers on failure, without its per-request copies.
func (h *handler) forward(w http.ResponseWriter, r *http.Request, f *forwarding) {
	rq := f.rq
	rq.x.Init(w)
	rq.x.Trace.GotConn = rq.gotConn
	var err error
	if h1 := f.up.h1; h1 != nil {
		// The HTTP/1.1 client reads the deadline and the trace hooks from the exchange: no timeout
		// context (a timer, a context, its registration with the stream's) or trace value per request.
		rq.x.Deadline = time.Now().Add(h.g.p.UpstreamTimeout)
		out := httpfwd.Outbound(r, r.Context())
		rewrite(out, f)
		err = forwarder.Forward(w, r, out, h1, &rq.x)
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), h.g.p.UpstreamTimeout)
		defer cancel() // Forward returns when the body has been copied
		out := httpfwd.Outbound(r, httptrace.WithClientTrace(ctx, &rq.x.Trace))
		rewrite(out, f)
		err = forwarder.Forward(w, r, out, f.up.transport, &rq.x)
	}
	rq.entry.UpstreamServiceTime = rq.x.Elapsed
	if err != nil {
		h.g.upstreamFailed(w, f, err)
	}
}

// gotConn records the address actually dialled (or reused), for the access log's upstream_host.
func (rq *request) gotConn(info httptrace.GotConnInfo) {
	rq.entry.UpstreamHost, rq.entry.UpstreamLocalAddress = connAddrs(info.Conn)
}

// forwarder copies upstream answers back; a host's answer never carries the gateway's denial header.
var forwarder = httpfwd.Forwarder{ModifyResponse: dropGatewayDenied}

func dropGatewayDenied(resp *http.Response) error {
	// Only the gateway's own denials carry it; a host cannot make a sidecar log one.
	resp.Header.Del(accesslog.HeaderGatewayDenied)
	return nil
}

// rewrite points an outbound request at its upstream.
func rewrite(out *http.Request, f *forwarding) {
	u := out.URL
	u.Scheme = "http"
	if f.up.tls != nil {
		u.Scheme = "https"
	}
	u.Host = f.up.pick(f.rq.decision)
	// The external host sees its own name, never the mesh-internal port or address.
	out.Host = f.rq.host
	out.Header.Del("X-Forwarded-For")
	out.Header.Del("X-Forwarded-Host")
	out.Header.Del("X-Forwarded-Proto")
	out.Header.Del("Forwarded")
	if out.Header.Get("X-Request-Id") != f.rq.entry.RequestID {
		out.Header.Set("X-Request-Id", f.rq.entry.RequestID)
	}
}

// upstreamFailed answers a request whose upstream gave no answer to copy.
func (g *Gateway) upstreamFailed(w http.ResponseWriter, f *forwarding, err error) {
	status, flag := upstreamFailure(err)
	reason := describe(err)
	f.rq.entry.UpstreamTransportFailureReason = reason
	g.p.Log.Warn("upstream failed", "upstream", f.rq.decision.Upstream, "source", f.rq.entry.SourceIdentity, "reason", reason)
	f.h.answer(w, f.rq, status, flag, "upstream "+f.rq.decision.Upstream+": "+reason, "")
}

// proxy is the gateway's one reverse proxy; per-request routing comes from the context.
func (g *Gateway) proxy() *httputil.ReverseProxy {
	g.proxyOnce.Do(func() {
		g.rp = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				rewrite(pr.Out, pr.In.Context().Value(ctxKey{}).(*forwarding))
			},
			Transport:      roundTripper{},
			BufferPool:     splice.BufferPool,
			ModifyResponse: dropGatewayDenied,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				g.upstreamFailed(w, r.Context().Value(ctxKey{}).(*forwarding), err)
			},
			ErrorLog: nil,
		}
	})
	return g.rp
}

// roundTripper sends each request on the pooled transport of its upstream.
type roundTripper struct{}

func (roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	f := r.Context().Value(ctxKey{}).(*forwarding)
	ctx, cancel := context.WithTimeout(r.Context(), f.h.g.p.UpstreamTimeout)
	// Record the address actually dialled (or reused), for the access log's upstream_host.
	f.rq.x.Trace.GotConn = f.rq.gotConn
	ctx = httptrace.WithClientTrace(ctx, &f.rq.x.Trace)
	start := time.Now()
	resp, err := f.up.transport.RoundTrip(r.WithContext(ctx))
	f.rq.entry.UpstreamServiceTime = time.Since(start)
	if err != nil {
		cancel()
		return nil, err
	}
	f.rq.body = cancelBody{ReadCloser: resp.Body, cancel: cancel}
	resp.Body = &f.rq.body
	return resp, nil
}

// upstreamFailure maps a failure to reach the external host to the answer and its response flag.
func upstreamFailure(err error) (int, accesslog.Flag) {
	var blocked *resolve.BlockedError
	switch {
	case errors.As(err, &blocked) || errors.Is(err, resolve.ErrNotFound):
		return http.StatusServiceUnavailable, accesslog.FlagDNSFailure
	case isTimeout(err):
		return http.StatusGatewayTimeout, accesslog.FlagUpstreamTimeout
	}
	return http.StatusServiceUnavailable, accesslog.UpstreamFailure(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, syscall.ETIMEDOUT)
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(s int) {
	if c.status == 0 && (s < 100 || s > 199) { // an informational answer is not the one logged
		c.status = s
	}
	c.ResponseWriter.WriteHeader(s)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// addrConn is an upstream connection with its addresses' text, made once when it is dialled rather
// than for every request that reuses it.
type addrConn struct {
	net.Conn
	remote, local string
}

// NetConn is the connection under the addresses, for the upstream client's check that an idle
// connection is still open.
func (c *addrConn) NetConn() net.Conn { return c.Conn }

func withAddrs(c net.Conn) net.Conn {
	return &addrConn{Conn: c, remote: c.RemoteAddr().String(), local: c.LocalAddr().String()}
}

// connAddrs is the remote and local address of an upstream connection (under its TLS, if any).
func connAddrs(c net.Conn) (remote, local string) {
	inner := c
	if tc, ok := c.(*tls.Conn); ok {
		inner = tc.NetConn()
	}
	if ac, ok := inner.(*addrConn); ok {
		return ac.remote, ac.local
	}
	return c.RemoteAddr().String(), c.LocalAddr().String()
}
