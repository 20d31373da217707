package gateway

import (
	"cmp"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/httpfwd"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/proxymetrics"
)

// handler serves one listener: CONNECT streams take the opaque path, everything else the HTTP path.
type handler struct {
	g    *Gateway
	port uint32 // target port of the listener

	local atomic.Pointer[localAddr] // the text of the last local address seen
}

// localAddr is a listener's local address and its text: every connection to a listener bound to one
// address has the same, so the text is made once rather than three allocations per request.
type localAddr struct {
	ap   netip.AddrPort
	text string
}

func (h *handler) localAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ap := ta.AddrPort()
	if l := h.local.Load(); l != nil && l.ap == ap && ta.Zone == "" {
		return l.text
	}
	text := a.String()
	if ta.Zone == "" {
		h.local.Store(&localAddr{ap: ap, text: text})
	}
	return text
}

// request is what one request carries through the gateway, for its decision and its log line.
type request struct {
	start    time.Time
	st       *state
	source   ir.SpiffeID
	host     string
	port     uint32
	entry    accesslog.Entry
	decision ir.Decision

	// The per-request helpers of the HTTP path live in the request's one allocation.
	fw   forwarding
	cw   countingWriter
	body cancelBody
	x    httpfwd.Exchange
	// idSlot holds the request ID the gateway made, as the header's value, without a slice of its own.
	idSlot [1]string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{start: time.Now(), st: h.g.cfg.Load()}
	rq.entry = accesslog.Entry{
		StartTime:     rq.start,
		Component:     accesslog.ComponentGateway,
		SourceAddress: r.RemoteAddr,
		Method:        r.Method,
		Path:          r.URL.Path,
		Protocol:      r.Proto,
		Authority:     r.Host,
		UserAgent:     r.UserAgent(),
	}
	rq.entry.RequestID = requestID(r, &rq.idSlot)
	if r.TLS != nil {
		rq.entry.SNI = r.TLS.ServerName
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		rq.entry.DownstreamLocalAddress = h.localAddr(a)
	}
	defer func() {
		rq.entry.Duration = time.Since(rq.start)
		if h.g.p.Access != nil {
			_ = h.g.p.Access.Log(&rq.entry)
		}
		h.g.p.Metrics.Request(&rq.entry, proxymetrics.Labels{Service: rq.decision.Service, Gateway: rq.st.cfg.Gateway.ID})
	}()

	select {
	case h.g.inFlight <- struct{}{}:
		defer func() { <-h.g.inFlight }()
	default:
		w.Header().Set("Retry-After", "1")
		h.answer(w, rq, http.StatusServiceUnavailable, accesslog.FlagOverflow, "overloaded: too many requests in flight", "")
		return
	}

	id, err := peerID(r.TLS)
	if err != nil {
		// The TLS handshake required and verified a client certificate, so this is a mesh certificate
		// without a SPIFFE ID: refuse it rather than guess an identity.
		h.answer(w, rq, http.StatusForbidden, accesslog.FlagPolicyDenied, err.Error(), "RBAC: access denied")
		return
	}
	rq.source = id.id
	rq.entry.SourceIdentity = id.name

	if r.Method == http.MethodConnect {
		h.serveConnect(w, r, rq)
		return
	}
	h.serveHTTP(w, r, rq)
}

// route resolves the authority against this listener and the shared decision. ok is false when an answer
// has been written.
func (h *handler) route(w http.ResponseWriter, r *http.Request, rq *request, authority string, opaque bool) bool {
	host, port, err := splitAuthority(authority, 80)
	if err != nil {
		h.answer(w, rq, http.StatusBadRequest, accesslog.FlagNoRoute, err.Error(), "")
		return false
	}
	rq.host, rq.port = host, port
	d := rq.st.decisions.Decide(ir.Request{
		Source:     rq.source,
		SourceText: rq.entry.SourceIdentity,
		Host:       host,
		Port:       port,
		Method:     r.Method,
		Path:       r.URL.Path,
		Headers:    r.Header.Values,
		Opaque:     opaque,
		Gateway:    rq.st.cfg.Gateway.ID,
		Pick:       mrand.Uint32(), // the gateway's own draw for a weighted route; no header can set it
	})
	rq.decision = d
	if d.RouteTable != "" {
		// A gateway RouteTable chose the service: it is where the request goes and the host it sees.
		rq.host, rq.entry.RouteName = d.Host, d.RouteTable
	}
	rq.entry.Decision = accesslog.DecisionDeny
	rq.entry.Reason = d.Reason
	rq.entry.Policy = d.Policy
	if d.DryRunDeny {
		rq.entry.Reason += "; dry run would deny: " + d.DryRunReason
	}
	switch {
	case d.Kind == ir.KindDenied:
		h.answer(w, rq, http.StatusForbidden, accesslog.FlagPolicyDenied, d.Reason, ir.DeniedBody)
		return false
	case d.Kind == ir.KindRouteNotFound:
		h.answer(w, rq, http.StatusNotFound, accesslog.FlagNoRoute, d.Reason, "")
		return false
	case d.Kind == ir.KindNoEndpoints:
		h.g.p.Log.Warn("no endpoint", "source", rq.entry.SourceIdentity, "authority", authority, "reason", d.Reason)
		h.answer(w, rq, http.StatusServiceUnavailable, accesslog.FlagNoHealthyUpstream, d.Reason, "")
		return false
	case d.Kind != ir.KindRouted || !h.servesHere(rq.st, d):
		reason := fmt.Sprintf("%s:%d is not exposed on this gateway's listener %d", host, port, h.port)
		h.answer(w, rq, http.StatusNotFound, accesslog.FlagNoRoute, reason, "")
		return false
	}
	rq.entry.Decision = accesslog.DecisionAllow
	if d.DryRunDeny {
		rq.entry.Decision = accesslog.DecisionDryRunDeny
	}
	rq.entry.UpstreamCluster = "outbound|" + strconv.FormatUint(uint64(d.ServicePort), 10) + "||" + host
	return true
}

// servesHere checks that the decision's route targets this gateway's listener.
func (h *handler) servesHere(st *state, d ir.Decision) bool {
	for _, t := range d.Targets {
		if t.GatewayID == st.cfg.Gateway.ID && t.TargetPort == h.port {
			return true
		}
	}
	return false
}

// answer writes a local reply and records it in the log entry. The public body never carries the reason.
func (h *handler) answer(w http.ResponseWriter, rq *request, status int, flag accesslog.Flag, reason, body string) {
	rq.entry.LocalReply(status, flag)
	if rq.entry.Reason == "" || status != http.StatusForbidden {
		rq.entry.Reason = reason
	}
	if flag == accesslog.FlagPolicyDenied && status == http.StatusForbidden {
		// Tells the sidecar, on its verified connection, that the gateway refused the call (forward.go
		// removes the header from every answer a host sends).
		w.Header().Set(accesslog.HeaderGatewayDenied, cmp.Or(rq.entry.Policy, "none"))
	}
	if body != "" {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	} else {
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(status)
	if body != "" {
		n, _ := w.Write([]byte(body))
		rq.entry.BytesSent += int64(n)
	}
	h.g.p.Log.Debug("local reply", "status", status, "flag", flag, "source", rq.entry.SourceIdentity, "authority", rq.entry.Authority, "reason", reason)
}

// peer is a caller's SPIFFE ID and its text.
type peer struct {
	id   ir.SpiffeID
	name string
}

// peers remembers the SPIFFE ID read from each verified leaf certificate, so that the requests of one
// connection (which all carry the same verified chain) parse it once. Keys are weak: the cache keeps no
// certificate alive, and it is emptied when it reaches peerCacheSize entries.
var peers struct {
	sync.Mutex
	m map[weak.Pointer[x509.Certificate]]peer
}

const peerCacheSize = 4096

// peerID is the caller's SPIFFE ID, taken only from the verified certificate chain.
func peerID(cs *tls.ConnectionState) (peer, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return peer{}, errors.New("no verified client certificate")
	}
	leaf := cs.VerifiedChains[0][0]
	key := weak.Make(leaf)
	peers.Lock()
	p, ok := peers.m[key]
	peers.Unlock()
	if ok {
		return p, nil
	}
	id, err := parsePeerID(leaf)
	if err != nil {
		return peer{}, err
	}
	p = peer{id: id, name: id.String()}
	peers.Lock()
	if peers.m == nil || len(peers.m) >= peerCacheSize {
		peers.m = make(map[weak.Pointer[x509.Certificate]]peer)
	}
	peers.m[key] = p
	peers.Unlock()
	return p, nil
}

// parsePeerID reads the one SPIFFE ID of a verified leaf certificate.
func parsePeerID(leaf *x509.Certificate) (ir.SpiffeID, error) {
	if len(leaf.URIs) != 1 {
		return ir.SpiffeID{}, fmt.Errorf("client certificate has %d URI SANs, want exactly one SPIFFE ID", len(leaf.URIs))
	}
	return ir.ParseSpiffeID(leaf.URIs[0].String())
}

// splitAuthority parses host[:port], lower-casing the host; a missing port is def.
func splitAuthority(a string, def uint32) (string, uint32, error) {
	if a == "" {
		return "", 0, errors.New("request has no authority")
	}
	if !strings.Contains(a, ":") {
		return strings.ToLower(strings.Trim(a, "[]")), def, nil // no port: no error to build and read
	}
	host, portStr, err := net.SplitHostPort(a)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.ToLower(strings.Trim(a, "[]")), def, nil
		}
		return "", 0, fmt.Errorf("bad authority %q: %v", a, err)
	}
	p, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || p == 0 {
		return "", 0, fmt.Errorf("bad port in authority %q", a)
	}
	return strings.ToLower(host), uint32(p), nil
}

// requestID keeps the caller's x-request-id or makes one, so one call can be followed across hops.
func requestID(r *http.Request, slot *[1]string) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		return id
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	var out [36]byte // 8-4-4-4-12 hex digits, in one allocation
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:36], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	id := string(out[:])
	slot[0] = id
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header["X-Request-Id"] = slot[:]
	return id
}
