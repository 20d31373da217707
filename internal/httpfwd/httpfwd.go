// Package httpfwd forwards one HTTP request to an upstream and copies the answer back: the work of
// httputil.ReverseProxy (Rewrite mode) for the requests a mesh proxy sees all day, with a quarter of its
// allocations. It does not clone the inbound request's header map or URL (the caller owns them and
// edits them in place), does not copy response header values one by one, and needs no per-request
// context to find its hooks.
//
// A request that asks for a protocol upgrade is not handled here: callers keep a ReverseProxy for it
// (Upgrade reports which requests those are).
package httpfwd

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"
)

// bufs lends the 32 KiB buffers response bodies are copied through: a free list that a garbage
// collection does not empty (a sync.Pool is emptied by every other one, and refilling it cost about
// 350 bytes per request at a few thousand requests per second). It keeps at most maxFree buffers
// (2 MiB); copies beyond that many at once allocate their own and drop them.
var bufs = make(chan *[]byte, maxFree)

const maxFree = 64

func getBuf() *[]byte {
	select {
	case b := <-bufs:
		return b
	default:
		b := make([]byte, 32<<10)
		return &b
	}
}

func putBuf(b *[]byte) {
	select {
	case bufs <- b:
	default:
	}
}

// Upgrade reports whether a request asks to switch protocols (Connection: upgrade), which Forward
// leaves to httputil.ReverseProxy.
func Upgrade(h http.Header) bool {
	return headerValuesContainToken(h["Connection"], "upgrade")
}

// hopHeaders are removed from every request and response, besides those the Connection header names
// (RFC 9110 §7.6.1; ReverseProxy's list).
var hopHeaders = []string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// noUserAgent stops the transport from sending Go's default User-Agent when the caller sent none.
var noUserAgent = []string{""}

var teTrailers = []string{"trailers"}

// Outbound turns in into the request sent upstream, in place: the same header map and URL (the caller
// edits both, as a ReverseProxy Rewrite would edit copies), on ctx. Hop-by-hop headers and the
// caller's forwarding headers (Forwarded, X-Forwarded-For, -Host, -Proto) are removed, "TE: trailers"
// is kept, an unparsable query is re-encoded, and an empty body is sent as none.
func Outbound(in *http.Request, ctx context.Context) *http.Request {
	keepTE := headerValuesContainToken(in.Header["Te"], "trailers")
	out := in.WithContext(ctx)
	if in.ContentLength == 0 {
		out.Body = nil
	} else if in.Body != nil {
		// The transport closes what it sends; the inbound body belongs to the server.
		out.Body = noopCloser{in.Body}
	}
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	out.Close = false
	RemoveHopByHop(out.Header)
	if keepTE {
		out.Header["Te"] = teTrailers
	}
	for _, k := range [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		delete(out.Header, k)
	}
	if out.URL != nil {
		out.URL.RawQuery = cleanQuery(out.URL.RawQuery)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = noUserAgent
	}
	return out
}

// RemoveHopByHop removes the headers the Connection header names and the standard hop-by-hop ones.
func RemoveHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range hopHeaders {
		delete(h, f)
	}
}

// Exchange is one forwarded request's state. Callers keep it inside their own per-request allocation
// and put Trace in the outbound request's context (httptrace.WithClientTrace) before Forward, so that
// informational (1xx) answers reach the client; they may set other Trace hooks too.
type Exchange struct {
	Trace httptrace.ClientTrace

	// Elapsed is how long the round trip took, to the response's headers.
	Elapsed time.Duration

	// Deadline, when set, is when the exchange (the answer's body included) must have ended, for
	// Forward over a *Client, which then takes its trace hooks from Trace too: callers need no
	// timeout context or trace value in the request's context. Other round trippers ignore it.
	Deadline time.Time

	mu   sync.Mutex
	w    http.ResponseWriter
	done bool // the round trip returned: 1xx answers no longer touch w
}

// Init points the exchange's 1xx answers at w. Forward installs the hook (Trace.Got1xxResponse, unless
// the caller set one) only for round trippers other than *Client, which calls it directly: a method
// value made per request is an allocation.
func (x *Exchange) Init(w http.ResponseWriter) {
	x.w = w
}

func (x *Exchange) got1xx(code int, header textproto.MIMEHeader) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done {
		return nil
	}
	h := x.w.Header()
	for k, vv := range header {
		h[k] = append(h[k], vv...)
	}
	x.w.WriteHeader(code)
	clear(h) // WriteHeader keeps the map for 1xx answers
	return nil
}

func (x *Exchange) finish() {
	x.mu.Lock()
	x.done = true
	x.mu.Unlock()
}

// Forwarder copies the answers to outbound requests back to their clients.
type Forwarder struct {
	// ModifyResponse, when set, edits the response before it is copied; an error is returned by
	// Forward with nothing written. It must not keep the response: over a *Client, the response and
	// its header map are used again by the connection's next exchange once Forward returns.
	ModifyResponse func(*http.Response) error
}

// ErrSwitched is a 101 answer to a request that asked for no upgrade.
var ErrSwitched = errors.New("upstream switched protocols, but the request asked for no upgrade")

// Forward sends out (from Outbound, edited by the caller) with rt and writes the answer to w: status,
// headers without hop-by-hop ones, the body (flushed as it comes when the length is unknown or it is
// an event stream) and trailers. It returns an error, with nothing written to w, when there is no
// answer to copy (the round trip failed, ModifyResponse refused it, or it switched protocols); the
// caller answers then. A failure while the body is being copied aborts the handler with
// http.ErrAbortHandler, as ReverseProxy does, so the client sees the stream reset rather than a short
// body taken for a whole one.
func (f *Forwarder) Forward(w http.ResponseWriter, in, out *http.Request, rt http.RoundTripper, x *Exchange) error {
	if out.Body != nil {
		defer out.Body.Close()
	}
	start := time.Now()
	var res *http.Response
	var err error
	if c, ok := rt.(*Client); ok {
		res, err = c.roundTrip(out, x)
	} else {
		if x.w != nil && x.Trace.Got1xxResponse == nil {
			// The request's context holds &x.Trace: the transport reads the hook when a 1xx comes.
			x.Trace.Got1xxResponse = x.got1xx
		}
		res, err = rt.RoundTrip(out)
	}
	x.Elapsed = time.Since(start)
	x.finish()
	if err != nil {
		return err
	}
	// Over a *Client, res is the connection's own and closing its body hands it on to the next
	// exchange: nothing here touches res after this deferred close.
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		return ErrSwitched
	}
	RemoveHopByHop(res.Header)
	if f.ModifyResponse != nil {
		if err := f.ModifyResponse(res); err != nil {
			return err
		}
	}
	h := w.Header()
	for k, vv := range res.Header {
		// The response's slices are not used again by the transport: share them rather than copy.
		if old, ok := h[k]; ok {
			h[k] = append(old, vv...)
		} else {
			h[k] = vv
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)

	if err := f.copyBody(w, res); err != nil {
		res.Body.Close()
		if in.Context().Value(http.ServerContextKey) == nil {
			return nil // not under an http.Server (a handler called directly): nothing to abort
		}
		panic(http.ErrAbortHandler)
	}
	// The trailers arrived with the body's end.
	if len(res.Trailer) > 0 {
		// Trailers force a chunked answer: without this flush a short body would get a Content-Length.
		flush(w)
	}
	if len(res.Trailer) == announced {
		for k, vv := range res.Trailer {
			h[k] = append(h[k], vv...)
		}
		return nil
	}
	for k, vv := range res.Trailer {
		k = http.TrailerPrefix + k
		for _, v := range vv {
			h.Add(k, v)
		}
	}
	return nil
}

// copyBody copies the response body through a pooled buffer, flushing after each write when the
// answer streams.
func (f *Forwarder) copyBody(w http.ResponseWriter, res *http.Response) error {
	streams := res.ContentLength == -1 || isEventStream(res.Header.Get("Content-Type"))
	bp := getBuf()
	defer putBuf(bp)
	buf := *bp
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if streams {
				flush(w)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func flush(w http.ResponseWriter) {
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
		return
	}
	_ = http.NewResponseController(w).Flush()
}

// isEventStream reports whether a Content-Type is text/event-stream (parameters and case aside).
func isEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// headerValuesContainToken reports whether a comma-separated header names token (ignoring ASCII case).
func headerValuesContainToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if asciiEqualFold(textproto.TrimString(t), token) {
				return true
			}
		}
	}
	return false
}

// cleanQuery re-encodes a query with separators or escapes the standard library would refuse, as
// ReverseProxy does, so the upstream sees the same parameters the proxy's policy saw.
func cleanQuery(s string) string {
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func reencode(s string) string {
	v, _ := url.ParseQuery(s)
	return v.Encode()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// noopCloser keeps the transport from closing the server's request body.
type noopCloser struct{ io.Reader }

func (noopCloser) Close() error { return nil }
