package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/sniff"
	"egret.dev/egret/internal/splice"
)

// serveConnect carries an opaque TLS or TCP stream to host:port. The decision is made on the caller's
// identity, the host and the port; for TLS the ClientHello's SNI must name the CONNECT host, so a caller
// cannot be authorized for one host and talk to another (domain fronting).
func (h *handler) serveConnect(w http.ResponseWriter, r *http.Request, rq *request) {
	rq.entry.Path = ""
	if !h.route(w, r, rq, r.Host, true) {
		return
	}
	d := rq.decision
	up, err := h.g.p.Upstream.forService(rq.st, d)
	if err != nil {
		h.answer(w, rq, http.StatusServiceUnavailable, accesslog.FlagUpstreamConnFailure, err.Error(), "")
		return
	}
	if up.tls != nil {
		// A stream whose service port originates TLS would need the gateway to speak TLS to the host on
		// the caller's behalf; the caller would then be sending plaintext in a tunnel meant for TLS.
		h.answer(w, rq, http.StatusNotFound, accesslog.FlagNoRoute, fmt.Sprintf("%s originates TLS at the gateway; send plain HTTP requests, not a CONNECT tunnel", d.Upstream), "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.g.p.UpstreamTimeout)
	upConn, err := up.dial(ctx, "tcp", d.Upstream)
	cancel()
	if err != nil {
		status, flag := upstreamFailure(err)
		h.g.p.Log.Warn("upstream failed", "upstream", d.Upstream, "source", rq.entry.SourceIdentity, "reason", describe(err))
		h.answer(w, rq, status, flag, "upstream "+d.Upstream+": "+describe(err), "")
		return
	}
	defer upConn.Close()
	rq.entry.UpstreamHost = upConn.RemoteAddr().String()

	down, untrack, err := h.openTunnel(w, r)
	if err != nil {
		rq.entry.Status, rq.entry.ResponseFlags, rq.entry.Reason = http.StatusBadGateway, []accesslog.Flag{accesslog.FlagDownstreamTermination}, err.Error()
		return
	}
	rq.entry.Status = http.StatusOK
	defer down.Close()
	defer untrack()

	if isTLSProtocol(up.port.Protocol) {
		hello, prefix, err := sniff.ClientHello(io.LimitReader(down, 64<<10))
		if err != nil {
			rq.entry.Decision, rq.entry.ResponseFlags = accesslog.DecisionDeny, []accesslog.Flag{accesslog.FlagDownstreamProtocolError}
			rq.entry.Reason = "tunnel to a TLS port did not start with a TLS ClientHello: " + err.Error()
			return
		}
		rq.entry.SNI = hello.ServerName
		if !strings.EqualFold(hello.ServerName, rq.host) {
			rq.entry.Decision, rq.entry.ResponseFlags = accesslog.DecisionDeny, []accesslog.Flag{accesslog.FlagPolicyDenied}
			rq.entry.Reason = fmt.Sprintf("TLS SNI %q differs from the CONNECT host %q (domain fronting refused)", hello.ServerName, rq.host)
			h.g.p.Log.Warn("tunnel refused", "source", rq.entry.SourceIdentity, "connect", r.Host, "sni", hello.ServerName)
			return
		}
		if _, err := upConn.Write(prefix); err != nil {
			rq.entry.ResponseFlags, rq.entry.Reason = []accesslog.Flag{accesslog.FlagUpstreamConnFailure}, "writing ClientHello upstream: "+err.Error()
			return
		}
		rq.entry.BytesReceived += int64(len(prefix))
	}
	in, out, err := splice.Join(r.Context(), down, upConn)
	rq.entry.BytesReceived += in
	rq.entry.BytesSent += out
	if err != nil && !errors.Is(err, context.Canceled) {
		rq.entry.Reason = "tunnel ended: " + err.Error()
	}
}

func isTLSProtocol(p string) bool { return p == "TLS" || p == "HTTPS" }

// openTunnel answers 200 to the CONNECT and returns the stream: the HTTP/2 stream itself, or for
// HTTP/1.1 the hijacked connection. The tunnel is tracked for drain before the 200 goes out, so a
// Shutdown that follows the client's seeing it always waits for it; call untrack when it ends.
func (h *handler) openTunnel(w http.ResponseWriter, r *http.Request) (conn net.Conn, untrack func(), err error) {
	if r.ProtoMajor == 2 {
		rc := http.NewResponseController(w)
		sc := &streamConn{r: r.Body, w: w, rc: rc, local: h.g.Addr(h.port), remote: r.RemoteAddr}
		untrack = h.g.trackTunnel(sc)
		w.WriteHeader(http.StatusOK)
		if err := rc.Flush(); err != nil {
			untrack()
			return nil, nil, err
		}
		return sc, untrack, nil
	}
	raw, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	untrack = h.g.trackTunnel(raw)
	if _, err := io.WriteString(raw, "HTTP/1.1 200 OK\r\n\r\n"); err != nil {
		untrack()
		raw.Close()
		return nil, nil, err
	}
	if n := brw.Reader.Buffered(); n > 0 {
		prefix, _ := brw.Reader.Peek(n)
		return sniff.PrefixConn(raw, append([]byte(nil), prefix...)), untrack, nil
	}
	return raw, untrack, nil
}

// streamConn is an HTTP/2 CONNECT stream seen as a net.Conn.
type streamConn struct {
	r             io.ReadCloser
	w             http.ResponseWriter
	rc            *http.ResponseController
	local, remote string
}

func (s *streamConn) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *streamConn) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	return n, err
}
func (s *streamConn) Close() error                       { return s.r.Close() }
func (s *streamConn) LocalAddr() net.Addr                { return addr(s.local) }
func (s *streamConn) RemoteAddr() net.Addr               { return addr(s.remote) }
func (s *streamConn) SetDeadline(t time.Time) error      { return s.rc.SetReadDeadline(t) }
func (s *streamConn) SetReadDeadline(t time.Time) error  { return s.rc.SetReadDeadline(t) }
func (s *streamConn) SetWriteDeadline(t time.Time) error { return s.rc.SetWriteDeadline(t) }

type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }
