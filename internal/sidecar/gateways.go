package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"egret.dev/egret/internal/h2cli"
	"egret.dev/egret/internal/ir"
)

// The HTTP/2 clients the sidecar can reach gateways with (Params.HTTP2Client).
const (
	HTTP2ClientEgret = "egret" // internal/h2cli: requests written from the caller's goroutine
	HTTP2ClientXNet  = "x/net" // golang.org/x/net/http2.Transport, kept for comparison
)

// gatewayTransport is what the sidecar needs of an HTTP/2 client: x/net's Transport and h2cli's both are.
type gatewayTransport interface {
	RoundTrip(*http.Request) (*http.Response, error)
	CloseIdleConnections()
}

// gatewayConn is the pooled, multiplexed HTTP/2 connection to one gateway listener, with what the
// sidecar knows of that gateway's health.
type gatewayConn struct {
	addr   string
	id     ir.SpiffeID
	tr     gatewayTransport
	once   sync.Once
	health health
}

func (g *gatewayConn) close() { g.once.Do(g.tr.CloseIdleConnections) }

// connectError is a connection to a gateway that could not be made (refused, timed out, or a TLS
// handshake that failed or never finished): no request was sent on it.
type connectError struct{ err error }

func (e *connectError) Error() string { return "connecting: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// gateway returns the connection to the gateway target at addr, creating it on first use.
func (s *Sidecar) gateway(addr string, id ir.SpiffeID) *gatewayConn {
	// The key is built in a stack buffer: a map lookup by string(bytes) does not allocate, and this
	// runs for every call.
	var buf [256]byte
	k := append(append(append(append(append(append(append(buf[:0], addr...), "|spiffe://"...), id.TrustDomain...), "/ns/"...), id.Namespace...), "/sa/"...), id.ServiceAccount...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.gateways[string(k)]; ok {
		return g
	}
	key := string(k)
	g := &gatewayConn{addr: addr, id: id, tr: s.gatewayTransport(addr, id)}
	s.gateways[key] = g
	return g
}

// gatewayTransport builds the pooled HTTP/2 client for one gateway listener.
func (s *Sidecar) gatewayTransport(addr string, id ir.SpiffeID) gatewayTransport {
	conf := s.p.ClientTLS(id)
	conf.NextProtos = []string{"h2"}
	// The sidecar's own connections use the Direct dialer too: in transparent mode it carries the bypass
	// mark, without which the redirect would send them back to the sidecar.
	dialer := *s.p.Direct
	ct := s.p.ConnectTimeout
	dial := func(ctx context.Context) (*tls.Conn, error) {
		// One bound for the TCP connect and the TLS handshake together: a gateway that accepts
		// connections and never answers the handshake costs ConnectTimeout, not the caller's patience.
		ctx, cancel := context.WithTimeout(ctx, ct)
		defer cancel()
		// Always the gateway's address, whatever authority the request carries.
		raw, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, &connectError{err}
		}
		c := tls.Client(raw, conf)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &connectError{err}
		}
		return c, nil
	}
	// A pooled connection to a gateway that went silent (a stopped process, a black-holing firewall: no
	// RST ever comes) is pinged after this long without a frame and closed when the ping is not answered
	// within the connect timeout, so calls on it fail over within seconds rather than the 30 s + 10 s
	// these were before. An unused connection is closed after idleTimeout, and stops being pinged.
	pingAfter := max(ct, time.Second)
	const idleTimeout = 5 * time.Minute
	if s.p.HTTP2Client == HTTP2ClientXNet {
		return &http2.Transport{
			TLSClientConfig: conf,
			DialTLSContext: func(ctx context.Context, _, _ string, _ *tls.Config) (net.Conn, error) {
				return dial(ctx)
			},
			ReadIdleTimeout: pingAfter,
			PingTimeout:     ct,
			IdleConnTimeout: idleTimeout,
		}
	}
	return &h2cli.Transport{
		Dial:            dial,
		PingAfter:       pingAfter,
		PingTimeout:     ct,
		IdleTimeout:     idleTimeout,
		SettingsTimeout: ct,
	}
}

// target is one gateway listener to try, with its address.
type target struct {
	t    ir.GatewayTarget
	addr string
}

// targets orders the decision's gateways for one call: the caller's own cluster first (as Decide
// orders them), spreading calls round-robin among the gateways of equal preference, skipping
// gateways whose address the sidecar was not given, and putting ejected gateways last (they are still
// tried when nothing else is left: a gateway that came back early is found again).
func (s *Sidecar) targets(st *state, d ir.Decision, buf []target) ([]target, error) {
	out := buf[:0] // the call's own room, enough for the usual one or two gateways
	for _, t := range d.Targets {
		if a, ok := gatewayAddress(st.cfg.GatewayAddresses, t); ok {
			out = append(out, target{t: t, addr: a})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address is known for the gateways of %s (%d in the plan)", d.Host, len(d.Targets))
	}
	// Rotate within the leading group of the same cluster.
	n := 1
	for n < len(out) && out[n].t.Cluster == out[0].t.Cluster {
		n++
	}
	if n > 1 {
		k := int(s.next.Add(1) % uint64(n))
		lead := append(append([]target(nil), out[k:n]...), out[:k]...)
		out = append(lead, out[n:]...)
	}
	now := time.Now()
	in, ejected := out[:0], []target(nil) // the healthy ones kept in place, in order
	for _, t := range out {
		if s.gateway(t.addr, t.t.Identity).health.ejected(now) {
			ejected = append(ejected, t)
		} else {
			in = append(in, t)
		}
	}
	return append(in, ejected...), nil
}

// maxAttempts bounds the gateways one call tries: the first, and once another.
const maxAttempts = 2

// roundTrip sends r to the first gateway that answers. An answer from a gateway, even an error status,
// is final. A call goes on to a second gateway only when that cannot make the host see it twice: the
// connection to the first could not be made (nothing was sent), or the method is idempotent and not a
// byte of the request body was read.
func (s *Sidecar) roundTrip(r *http.Request, ts []target) (*http.Response, target, error) {
	var errs []error
	var body *guardedBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &guardedBody{rc: r.Body}
		r.Body = body
	}
	for i, t := range ts {
		if i == maxAttempts {
			break
		}
		g := s.gateway(t.addr, t.t.Identity)
		resp, err := g.tr.RoundTrip(r)
		if err == nil {
			s.gatewayAnswered(g, t)
			return resp, t, nil
		}
		errs = append(errs, fmt.Errorf("%s (%s): %w", t.t.GatewayID, t.addr, err))
		if r.Context().Err() != nil {
			break // the caller went away: not the gateway's failure
		}
		s.gatewayFailed(g, t, err)
		var ce *connectError
		sent := !errors.As(err, &ce) && !h2cli.NotSent(err)
		untouched := body == nil || body.detach()
		if !untouched || (sent && !idempotent(r.Method)) {
			break // the gateway may have seen it, and the host with it: another try could repeat it
		}
		if body != nil {
			body = &guardedBody{rc: body.rc}
			r.Body = body
		}
		if i+1 < len(ts) && i+1 < maxAttempts {
			s.p.Log.Warn("gateway failed, trying another", "gateway", t.t.GatewayID, "address", t.addr, "next", ts[i+1].t.GatewayID, "err", err)
		}
	}
	return nil, target{}, &exhaustedError{attempts: len(errs), err: errors.Join(errs...)}
}

// gatewayAnswered records that a gateway answered, logging its return from an ejection.
func (s *Sidecar) gatewayAnswered(g *gatewayConn, t target) {
	if g.health.succeeded() {
		s.p.Log.Info("gateway back in service", "gateway", t.t.GatewayID, "address", t.addr)
	}
}

// gatewayFailed records a failure of a gateway, logging once when it is ejected.
func (s *Sidecar) gatewayFailed(g *gatewayConn, t target, err error) {
	backoff, first := g.health.failed(time.Now())
	switch {
	case first:
		s.p.Log.Warn("gateway ejected", "gateway", t.t.GatewayID, "address", t.addr, "retry_in", backoff.String(), "err", err)
	case backoff > 0:
		s.p.Log.Debug("gateway still failing, ejected again", "gateway", t.t.GatewayID, "address", t.addr, "retry_in", backoff.String(), "err", err)
	}
}

// idempotent methods may be sent twice without changing the outcome (RFC 9110, 9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// guardedBody is a request body lent to one attempt. Once the attempt has read from it, it is spent;
// an attempt that never read from it can be detached, and the body lent to the next.
type guardedBody struct {
	mu       sync.Mutex
	rc       io.ReadCloser
	touched  bool
	detached bool
}

var errDetached = errors.New("request body handed to another gateway")

func (b *guardedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.detached {
		b.mu.Unlock()
		return 0, errDetached
	}
	b.touched = true
	b.mu.Unlock()
	return b.rc.Read(p)
}

// Close closes the body only once it is spent: an untouched body may still go to another gateway.
func (b *guardedBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.touched {
		return b.rc.Close()
	}
	b.detached = true
	return nil
}

// detach takes the body back from its attempt: true when that attempt never read from it.
func (b *guardedBody) detach() (untouched bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.detached = true
	return !b.touched
}

// exhaustedError is every gateway tried for a call failing; Attempts tells the log UF from URX.
type exhaustedError struct {
	attempts int
	err      error
}

func (e *exhaustedError) Error() string { return e.err.Error() }
func (e *exhaustedError) Unwrap() error { return e.err }
func (e *exhaustedError) Attempts() int { return e.attempts }

// gatewayAddress finds where a gateway listener is reached: "ID:targetPort" names one listener's
// address; "ID" names the gateway's host (its listeners on their target ports) or one host:port for all.
func gatewayAddress(addrs map[string]string, t ir.GatewayTarget) (string, bool) {
	var buf [256]byte
	k := strconv.AppendUint(append(append(buf[:0], t.GatewayID...), ':'), uint64(t.TargetPort), 10)
	if a, ok := addrs[string(k)]; ok { // no allocation for the lookup
		return a, true
	}
	a, ok := addrs[t.GatewayID]
	if !ok {
		return "", false
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		a = net.JoinHostPort(a, fmt.Sprint(t.TargetPort))
	}
	return a, true
}
