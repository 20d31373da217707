package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/httpfwd"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/origination"
	"egret.dev/egret/internal/proxymetrics"
	"egret.dev/egret/internal/sniff"
	"egret.dev/egret/internal/splice"
)

// call is one outbound request or stream, carried from the handler to the proxy hooks and the log.
type call struct {
	st       *state
	entry    accesslog.Entry
	host     string
	port     uint32
	origDst  netip.AddrPort // transparent mode: where the workload was really connecting
	decision ir.Decision
	targets  []target
	epStart  int // the ExternalEndpoint a direct call tries first

	// The HTTP path's helpers, in the call's one allocation.
	sw   statusWriter
	x    httpfwd.Exchange
	ctx  callContext
	tbuf [2]target
}

// callContext is a request's context that also carries its call, for the transports' hooks; it lives
// in the call's allocation (context.WithValue would make one more per request).
type callContext struct {
	context.Context
	c *call
}

func (cc *callContext) Value(key any) any {
	if key == (ctxKey{}) {
		return cc.c
	}
	return cc.Context.Value(key)
}

type ctxKey struct{}

// origDstKey carries a transparent connection's original destination into its HTTP requests.
type origDstKey struct{}

func (s *Sidecar) newCall(r *http.Request) *call {
	st := s.cfg.Load()
	c := &call{st: st, entry: accesslog.Entry{
		StartTime:      time.Now(),
		Component:      accesslog.ComponentSidecar,
		SourceIdentity: st.identity,
		SourceAddress:  r.RemoteAddr,
		Method:         r.Method,
		Path:           r.URL.Path,
		Protocol:       r.Proto,
		UserAgent:      r.UserAgent(),
		RequestID:      r.Header.Get("X-Request-Id"),
	}}
	if od, ok := r.Context().Value(origDstKey{}).(netip.AddrPort); ok {
		c.origDst = od
	}
	return c
}

func (s *Sidecar) finish(c *call) {
	c.entry.Duration = time.Since(c.entry.StartTime)
	if s.p.Access != nil {
		_ = s.p.Access.Log(&c.entry)
	}
	l := proxymetrics.Labels{Service: c.decision.Service}
	if c.decision.Kind == ir.KindRouted {
		l.Gateway = c.entry.UpstreamCluster // the gateway's ID, from config
	}
	s.p.Metrics.Request(&c.entry, l)
}

// ServeHTTP is the explicit proxy (absolute-form requests, origin-form requests routed by their Host
// header, and CONNECT) and, for requests that arrive through a transparent redirect, the HTTP path of
// transparent mode.
func (s *Sidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := s.newCall(r)
	defer s.finish(c)
	if r.Method == http.MethodConnect {
		s.serveConnect(w, r, c)
		return
	}
	authority, defPort := r.URL.Host, uint32(80)
	if r.URL.Scheme == "https" {
		defPort = 443
	}
	if authority == "" {
		// An origin-form request: the Host header names the destination, as Envoy's sidecar reads plain
		// HTTP (a client that sets only Host, or a load tool that sends the same request to any proxy).
		// The decision and the call use that host exactly as for an absolute-form request.
		if r.Host == "" {
			s.local(w, c, http.StatusBadRequest, accesslog.FlagDownstreamProtocolError, "no destination: an origin-form request needs a Host header (or send absolute-form requests, HTTP_PROXY, or CONNECT)", "")
			return
		}
		authority = r.Host
		if c.origDst.IsValid() {
			defPort = uint32(c.origDst.Port())
		}
	}
	c.entry.Authority = authority
	host, port, err := splitHostPort(authority, defPort)
	if err != nil {
		s.local(w, c, http.StatusBadRequest, accesslog.FlagDownstreamProtocolError, err.Error(), "")
		return
	}
	c.host, c.port = host, port
	if !s.decide(w, c, r, false) {
		return
	}
	c.sw = statusWriter{ResponseWriter: w}
	rw := &c.sw
	c.ctx = callContext{Context: r.Context(), c: c}
	ctx := context.Context(&c.ctx)
	if httpfwd.Upgrade(r.Header) {
		// Protocol upgrades keep the standard reverse proxy, which carries the switched connection.
		s.proxy().ServeHTTP(rw, r.WithContext(ctx))
	} else {
		s.forward(rw, r, ctx, c)
	}
	c.entry.Status, c.entry.BytesSent = rw.status, rw.n
}

// forward sends the request on with the lean forwarder: the reverse proxy's request edits (rewrite),
// answer hook (checkAnswer) and failure answer (upstreamFailed), without its per-request copies.
func (s *Sidecar) forward(w http.ResponseWriter, r *http.Request, ctx context.Context, c *call) {
	c.x.Init(w)
	out := httpfwd.Outbound(r, httptrace.WithClientTrace(ctx, &c.x.Trace))
	rewrite(out, c)
	if err := sidecarForwarder.Forward(w, r, out, sidecarTransport{s}, &c.x); err != nil {
		s.upstreamFailed(w, c, err)
	}
}

var sidecarForwarder = httpfwd.Forwarder{ModifyResponse: checkAnswer}

// rewrite points an outbound request at its gateway (HTTP/2 over mTLS, original authority) or its host.
func rewrite(out *http.Request, c *call) {
	authority := c.host
	if c.port != 80 {
		authority = net.JoinHostPort(c.host, strconv.Itoa(int(c.port)))
	}
	out.Host = authority
	out.URL.Host = authority
	out.URL.Scheme = "http"
	if c.decision.Kind == ir.KindRouted {
		out.URL.Scheme = "https" // the gateway hop is TLS; the authority stays the original
	}
	out.Header.Del("Proxy-Authorization")
	out.Header.Del("Proxy-Connection")
}

// checkAnswer reads a gateway's denial from its answer and removes the header the workload must not see.
func checkAnswer(resp *http.Response) error {
	c := resp.Request.Context().Value(ctxKey{}).(*call)
	policy, denied := gatewayDenial(resp.StatusCode, resp.Header)
	resp.Header.Del(accesslog.HeaderGatewayDenied) // never told to the workload, nor trusted from a host
	if denied && c.decision.Kind == ir.KindRouted {
		// Only a gateway's answer on the verified connection gets here with the header: the
		// gateway removes it from every answer it relays from a host.
		c.gatewayDenied(policy)
	}
	return nil
}

// upstreamFailed answers a call whose gateway or host gave no answer to copy.
func (s *Sidecar) upstreamFailed(w http.ResponseWriter, c *call, err error) {
	s.p.Log.Warn("upstream failed", "identity", c.entry.SourceIdentity, "host", c.host, "err", err)
	s.local(w, c, http.StatusServiceUnavailable, accesslog.UpstreamFailure(err), err.Error(), "")
}

// decide applies the decision to a call; false means an answer was written (or the stream refused).
func (s *Sidecar) decide(w http.ResponseWriter, c *call, r *http.Request, opaque bool) bool {
	d := c.st.decide(c.host, c.port, r, opaque)
	c.decision = d
	c.entry.Reason, c.entry.Policy = d.Reason, d.Policy
	c.entry.Decision = accesslog.DecisionDeny
	if d.RouteTable != "" {
		c.entry.RouteName = d.RouteTable
	}
	if d.RoutedFrom != "" {
		// A mesh RouteTable chose the service: the call goes on as if the workload had called it, so the
		// original destination a transparent redirect saw (the name the workload resolved) no longer applies.
		c.host, c.port, c.origDst = d.Host, d.Port, netip.AddrPort{}
	}
	switch d.Kind {
	case ir.KindRouteNotFound:
		s.local(w, c, http.StatusNotFound, accesslog.FlagNoRoute, d.Reason, "")
		return false
	case ir.KindNotInRegistry:
		// Istio's BlackHole answer: 502 with an empty body. The log line says who, where and why, which
		// Istio's users have long asked for.
		s.p.Log.Warn("blocked", "identity", c.entry.SourceIdentity, "host", net.JoinHostPort(c.host, strconv.Itoa(int(c.port))), "reason", d.Reason)
		s.local(w, c, http.StatusBadGateway, accesslog.FlagNoRoute, d.Reason, "")
		return false
	case ir.KindDenied:
		s.local(w, c, http.StatusForbidden, accesslog.FlagPolicyDenied, d.Reason, ir.DeniedBody)
		return false
	case ir.KindNoRoute:
		s.local(w, c, http.StatusServiceUnavailable, accesslog.FlagNoHealthyUpstream, d.Reason, "")
		return false
	case ir.KindNoEndpoints:
		s.p.Log.Warn("no endpoint", "identity", c.entry.SourceIdentity, "host", net.JoinHostPort(c.host, strconv.Itoa(int(c.port))), "reason", d.Reason)
		s.local(w, c, http.StatusServiceUnavailable, accesslog.FlagNoHealthyUpstream, d.Reason, "")
		return false
	case ir.KindDirect:
		c.epStart = s.rotor.Start(len(d.Endpoints))
	case ir.KindRouted:
		c.entry.Decision = accesslog.DecisionAllow // allowed: not knowing where its gateways are is UH, not a deny
		ts, err := s.targets(c.st, d, c.tbuf[:])
		if err != nil {
			s.local(w, c, http.StatusServiceUnavailable, accesslog.FlagNoHealthyUpstream, err.Error(), "")
			return false
		}
		c.targets = ts
	}
	if !d.Allow {
		// A kind this sidecar does not know is never taken for an allow.
		s.local(w, c, http.StatusServiceUnavailable, accesslog.FlagNoHealthyUpstream, d.Reason, "")
		return false
	}
	c.entry.Decision = accesslog.DecisionAllow
	return true
}

// local answers a call without going anywhere; the body never carries the reason.
func (s *Sidecar) local(w http.ResponseWriter, c *call, status int, flag accesslog.Flag, reason, body string) {
	c.entry.LocalReply(status, flag)
	c.entry.Reason = reason
	if w == nil {
		return // an opaque stream: the caller closes the connection
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if body != "" {
		w.Header().Set("Content-Type", "text/plain")
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
	c.entry.BytesSent = int64(len(body))
}

// proxy forwards HTTP requests: to a gateway (HTTP/2 over mTLS, original authority) or directly.
func (s *Sidecar) proxy() *httputil.ReverseProxy {
	s.proxyOnce.Do(func() { s.rp = s.newProxy() })
	return s.rp
}

func (s *Sidecar) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			rewrite(pr.Out, pr.In.Context().Value(ctxKey{}).(*call))
		},
		Transport:      sidecarTransport{s},
		BufferPool:     splice.BufferPool,
		ModifyResponse: checkAnswer,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.upstreamFailed(w, r.Context().Value(ctxKey{}).(*call), err)
		},
	}
}

type sidecarTransport struct{ s *Sidecar }

func (t sidecarTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c := r.Context().Value(ctxKey{}).(*call)
	if c.decision.Kind == ir.KindRouted {
		resp, tg, err := t.s.roundTrip(r, c.targets)
		if err == nil {
			c.entry.UpstreamHost, c.entry.UpstreamCluster = tg.addr, tg.t.GatewayID
		}
		return resp, err
	}
	c.entry.UpstreamHost = t.s.directAddr(c)
	// Pool connections by where they really go (in transparent mode two original destinations may share
	// a Host header); the Host header itself stays the workload's.
	r.URL.Host = c.entry.UpstreamHost
	if c.decision.Kind == ir.KindDirect && c.decision.TLSMode != "" {
		// A registered service reached directly whose port says clientsideTls: the sidecar originates
		// TLS, as Istio's sidecar does (port 80 in the mesh, targetPort 443 outside).
		tr, err := t.s.originating(c)
		if err != nil {
			return nil, err
		}
		r.URL.Scheme = "https"
		return tr.RoundTrip(r)
	}
	return t.s.directTransport().RoundTrip(r)
}

// originating returns the pooled transport that originates TLS for a direct call's service port.
func (s *Sidecar) originating(c *call) (*http.Transport, error) {
	key := c.decision.Service + "|" + strconv.Itoa(int(c.decision.ServicePort)) + "|" + c.host
	s.mu.Lock()
	defer s.mu.Unlock()
	if tr, ok := s.originators[key]; ok {
		return tr, nil
	}
	var o *ir.Origination
	for _, svc := range c.st.plan.Services {
		if svc.ID != c.decision.Service {
			continue
		}
		for _, p := range svc.Ports {
			if p.Number == c.decision.ServicePort {
				o = p.TLS
			}
		}
	}
	if o == nil {
		return nil, fmt.Errorf("service %s port %d has no clientsideTls", c.decision.Service, c.decision.ServicePort)
	}
	conf, err := origination.ClientTLS(origination.Config{
		Mode: origination.Mode(o.Mode), SNI: c.decision.SNI, CACertificates: o.CACertificates,
		ClientCertificate: o.ClientCertificate, PrivateKey: o.PrivateKey,
		SubjectAltNames: o.SubjectAltNames, InsecureSkipVerify: o.InsecureSkipVerify,
	})
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		TLSClientConfig:   conf,
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			cc, _ := ctx.Value(ctxKey{}).(*call)
			if cc != nil {
				addr = s.directAddr(cc)
			}
			return s.dialDirect(ctx, network, addr, cc)
		},
		IdleConnTimeout: 90 * time.Second,
	}
	if s.originators == nil {
		s.originators = map[string]*http.Transport{}
	}
	s.originators[key] = tr
	return tr, nil
}

// directAddr is where a call the sidecar makes itself goes: the original destination when it was
// intercepted (the workload already resolved the name), else the host and port it named.
func (s *Sidecar) directAddr(c *call) string {
	if eps := c.decision.Endpoints; c.decision.Kind == ir.KindDirect && len(eps) > 0 {
		return eps[c.epStart%len(eps)].Address
	}
	port := c.port
	if c.decision.Kind == ir.KindDirect && c.decision.Upstream != "" {
		// The service's targetPort, which may differ from the port the workload called.
		if _, p, err := net.SplitHostPort(c.decision.Upstream); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				port = uint32(n)
			}
		}
	}
	if c.origDst.IsValid() {
		return netip.AddrPortFrom(c.origDst.Addr(), uint16(port)).String()
	}
	return net.JoinHostPort(c.host, strconv.Itoa(int(port)))
}

func (s *Sidecar) directTransport() *http.Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.direct == nil {
		s.direct = &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, _ := ctx.Value(ctxKey{}).(*call)
				if c != nil {
					addr = s.directAddr(c)
				}
				return s.dialDirect(ctx, network, addr, c)
			},
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	return s.direct
}

// serveConnect carries a CONNECT tunnel (explicit mode) through a gateway or directly.
func (s *Sidecar) serveConnect(w http.ResponseWriter, r *http.Request, c *call) {
	c.entry.Authority, c.entry.Path = r.Host, ""
	host, port, err := splitHostPort(r.Host, 443)
	if err != nil {
		s.local(w, c, http.StatusBadRequest, accesslog.FlagDownstreamProtocolError, err.Error(), "")
		return
	}
	c.host, c.port = host, port
	if !s.decide(w, c, r, true) {
		return
	}
	up, err := s.openUpstream(r.Context(), c)
	var denied *gatewayDeniedError
	switch {
	case errors.As(err, &denied):
		c.gatewayDenied(denied.policy)
		s.local(w, c, http.StatusForbidden, accesslog.FlagPolicyDenied, c.entry.Reason, ir.DeniedBody)
		return
	case err != nil:
		s.local(w, c, http.StatusServiceUnavailable, accesslog.UpstreamFailure(err), err.Error(), "")
		return
	}
	defer up.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		c.entry.Reason = "hijack: " + err.Error()
		return
	}
	defer conn.Close()
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	c.entry.Status = http.StatusOK
	var down net.Conn = conn
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		down = sniff.PrefixConn(conn, append([]byte(nil), b...))
	}
	in, out, _ := splice.Join(context.Background(), down, up)
	c.entry.BytesReceived, c.entry.BytesSent = in, out
}

// openUpstream opens the byte stream for an opaque call: a CONNECT stream through a gateway, or a
// direct connection.
func (s *Sidecar) openUpstream(ctx context.Context, c *call) (net.Conn, error) {
	if c.decision.Kind != ir.KindRouted {
		addr := s.directAddr(c)
		c.entry.UpstreamHost = addr
		dctx, cancel := context.WithTimeout(ctx, s.p.Timeout)
		defer cancel()
		conn, err := s.dialDirect(dctx, "tcp", addr, c)
		if err == nil {
			c.entry.UpstreamHost = conn.RemoteAddr().String()
		}
		return conn, err
	}
	target := net.JoinHostPort(c.host, strconv.Itoa(int(c.port)))
	var errs []error
	// Nothing of the stream is sent before the gateway answers 200, so a CONNECT that failed may go to
	// another gateway whatever the failure; as for requests, at most maxAttempts are tried.
	for i, t := range c.targets {
		if i == maxAttempts {
			break
		}
		pr, pw := io.Pipe()
		req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodConnect, "https://"+target, pr)
		req.Host = target
		g := s.gateway(t.addr, t.t.Identity)
		resp, err := g.tr.RoundTrip(req)
		if err != nil {
			pw.Close()
			errs = append(errs, fmt.Errorf("%s: %w", t.t.GatewayID, err))
			s.gatewayFailed(g, t, err)
			continue
		}
		s.gatewayAnswered(g, t)
		c.entry.UpstreamHost, c.entry.UpstreamCluster = t.addr, t.t.GatewayID
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			pw.Close()
			if policy, ok := gatewayDenial(resp.StatusCode, resp.Header); ok {
				return nil, &gatewayDeniedError{policy: policy}
			}
			return nil, fmt.Errorf("gateway %s answered %d to CONNECT %s", t.t.GatewayID, resp.StatusCode, target)
		}
		return &streamConn{r: resp.Body, w: pw}, nil
	}
	return nil, &exhaustedError{attempts: len(errs), err: errors.Join(errs...)}
}

// gatewayDeniedError is a gateway refusing a CONNECT by policy.
type gatewayDeniedError struct{ policy string }

func (e *gatewayDeniedError) Error() string { return "denied by the gateway's policy " + e.policy }

// gatewayDenial reads a gateway's answer: ok when it is the gateway's own policy denial, with the policy
// that decided. Call it only on answers from a verified gateway connection.
func gatewayDenial(status int, h http.Header) (policy string, ok bool) {
	v := h.Get(accesslog.HeaderGatewayDenied)
	if status != http.StatusForbidden || v == "" {
		return "", false
	}
	if v == "none" {
		v = ""
	}
	return v, true
}

// gatewayDenied records in the call's log line that its gateway refused it: the sidecar's own decision
// allowed the call, the gateway's policy did not.
func (c *call) gatewayDenied(policy string) {
	c.entry.Decision, c.entry.DeniedBy, c.entry.Policy = accesslog.DecisionDeny, accesslog.DeniedByGateway, policy
	c.entry.ResponseFlags = []accesslog.Flag{accesslog.FlagPolicyDenied}
	c.entry.ResponseCodeDetails = accesslog.RBACDetails(policy)
	c.entry.Reason = "denied by gateway " + c.entry.UpstreamCluster
	if policy != "" {
		c.entry.Reason += " (policy " + policy + ")"
	}
}

func splitHostPort(a string, def uint32) (string, uint32, error) {
	if !strings.Contains(a, ":") {
		return strings.ToLower(strings.Trim(a, "[]")), def, nil // no port: no error to build and read
	}
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.ToLower(strings.Trim(a, "[]")), def, nil
		}
		return "", 0, fmt.Errorf("bad authority %q", a)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("bad port in %q", a)
	}
	return strings.ToLower(host), uint32(n), nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 && (s < 100 || s > 199) { // an informational answer is not the one logged
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
