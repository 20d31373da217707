package h2cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2/hpack"
)

// smallBody is the largest request body read whole before the request is written, so that headers and
// body leave in one flush (and the request can be sent again when the server did not process it).
const smallBody = 16 << 10

var smallPool = sync.Pool{New: func() any { b := make([]byte, smallBody+1); return &b }}

// request is one RoundTrip's request across its attempts.
type request struct {
	r        *http.Request
	small    []byte  // the whole body, when its length is known and small
	smallBuf *[]byte // where small lives (pooled)
	stream   bool    // the body is sent by a writer goroutine as it is read
	bodyRead atomic.Bool
}

func newRequest(r *http.Request) (*request, error) {
	if r.URL == nil {
		return nil, errors.New("h2cli: request has no URL")
	}
	if r.Method != http.MethodConnect && r.URL.Scheme != "https" {
		return nil, fmt.Errorf("h2cli: scheme %q: only https", r.URL.Scheme)
	}
	for k, vv := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("h2cli: invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("h2cli: invalid value in header field %q", k)
			}
		}
	}
	q := &request{r: r}
	if r.Body == nil || r.Body == http.NoBody {
		return q, nil
	}
	if r.ContentLength <= 0 || r.ContentLength > smallBody || len(r.Trailer) > 0 || r.Method == http.MethodConnect {
		q.stream = true
		return q, nil
	}
	q.smallBuf = smallPool.Get().(*[]byte)
	n, err := io.ReadFull(r.Body, (*q.smallBuf)[:r.ContentLength+1])
	switch {
	case err == io.ErrUnexpectedEOF && int64(n) == r.ContentLength:
	case err == nil:
		q.release()
		return nil, fmt.Errorf("h2cli: request body longer than its Content-Length %d", r.ContentLength)
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		q.release()
		return nil, fmt.Errorf("h2cli: request body of %d bytes, shorter than its Content-Length %d", n, r.ContentLength)
	default:
		q.release()
		return nil, fmt.Errorf("h2cli: reading the request body: %w", err)
	}
	q.small = (*q.smallBuf)[:n]
	r.Body.Close() // held whole: every attempt sends these bytes
	return q, nil
}

// rewindable says whether the request can be sent again: its body is held whole, or none of it was read.
func (q *request) rewindable() bool { return !q.stream || !q.bodyRead.Load() }

func (q *request) release() {
	if q.smallBuf != nil {
		smallPool.Put(q.smallBuf)
		q.smallBuf, q.small = nil, nil
	}
}

// hasBody says whether DATA follows the HEADERS frame.
func (q *request) hasBody() bool { return q.stream || len(q.small) > 0 }

// encodeHeaders writes the request's header block with enc (the connection's encoder).
func encodeHeaders(enc *hpack.Encoder, lower *lowerCache, q *request) {
	r := q.r
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	enc.WriteField(hpack.HeaderField{Name: ":method", Value: r.Method})
	if r.Method == http.MethodConnect {
		enc.WriteField(hpack.HeaderField{Name: ":authority", Value: host})
	} else {
		path := r.URL.RequestURI()
		enc.WriteField(hpack.HeaderField{Name: ":authority", Value: host})
		enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "https"})
		enc.WriteField(hpack.HeaderField{Name: ":path", Value: path})
	}
	for k, vv := range r.Header {
		name := lower.get(k)
		switch name {
		case "host", "connection", "proxy-connection", "transfer-encoding", "upgrade", "keep-alive", "content-length", "trailer":
			continue // connection-specific, or written below
		case "te":
			for _, v := range vv {
				if strings.EqualFold(v, "trailers") {
					enc.WriteField(hpack.HeaderField{Name: "te", Value: "trailers"})
				}
			}
			continue
		case "user-agent":
			if len(vv) > 0 && vv[0] == "" {
				continue
			}
		}
		for _, v := range vv {
			enc.WriteField(hpack.HeaderField{Name: name, Value: v, Sensitive: name == "authorization" || name == "proxy-authorization"})
		}
	}
	if len(r.Trailer) > 0 {
		keys := make([]string, 0, len(r.Trailer))
		for k := range r.Trailer {
			keys = append(keys, lower.get(k))
		}
		enc.WriteField(hpack.HeaderField{Name: "trailer", Value: strings.Join(keys, ",")})
	}
	switch {
	case len(q.small) > 0:
		enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(q.small))})
	case q.stream && r.ContentLength > 0:
		enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.FormatInt(r.ContentLength, 10)})
	case !q.hasBody() && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch):
		enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "0"})
	}
}

// encodeTrailers writes the request's trailers (read once its body ended).
func encodeTrailers(enc *hpack.Encoder, lower *lowerCache, tr http.Header) {
	for k, vv := range tr {
		name := lower.get(k)
		for _, v := range vv {
			enc.WriteField(hpack.HeaderField{Name: name, Value: v})
		}
	}
}

// lowerCache holds the lower-case wire names of header keys, so a request's usual headers cost no
// allocation; it is bounded and used under the connection's write lock.
type lowerCache struct{ m map[string]string }

func (l *lowerCache) get(k string) string {
	if v, ok := l.m[k]; ok {
		return v
	}
	v := strings.ToLower(k)
	if l.m == nil {
		l.m = make(map[string]string, 32)
	}
	if len(l.m) < 256 {
		l.m[k] = v
	}
	return v
}
