package h2cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// onHeaders handles a whole header block: a stream's response header (1xx skipped), or its trailers.
func (c *conn) onHeaders(f *block) error {
	id := f.StreamID
	c.mu.Lock()
	s := c.streams[id]
	if s == nil {
		ok := c.knownLocked(id)
		c.mu.Unlock()
		if !ok {
			return &protocolError{code: codeProtocol, reason: fmt.Sprintf("HEADERS on stream %d, which the client never opened", id)}
		}
		return nil
	}
	headersDone := s.headersDone
	c.mu.Unlock()
	if f.Truncated {
		c.resetStream(id, codeProtocol, fmt.Sprintf("response header larger than %d bytes", c.t.maxHeaderListSize()))
		return nil
	}
	if headersDone {
		return c.onTrailers(s, f)
	}
	resp, code, err := c.buildResponse(s, f)
	if err != nil {
		c.resetStream(id, codeProtocol, err.Error())
		return nil
	}
	if code < 200 {
		if f.StreamEnded() {
			c.resetStream(id, codeProtocol, "informational response ends the stream")
		}
		return nil // 1xx: the final answer follows
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.dead {
		return nil
	}
	s.resp = resp
	s.declared = resp.ContentLength
	if f.StreamEnded() {
		resp.Body = http.NoBody
	} else {
		resp.Body = &s.body
	}
	s.headersDone = true
	c.wake(s, true)
	if f.StreamEnded() {
		s.endResponseLocked()
	}
	return nil
}

// endResponseLocked is the server's END_STREAM: the body ends, short of its Content-Length or not.
func (s *stream) endResponseLocked() {
	s.respDone = true
	if s.bodyErr == nil {
		if s.declared >= 0 && s.got != s.declared && s.q.r.Method != http.MethodHead {
			s.bodyErr = fmt.Errorf("h2cli: response body of %d bytes, but Content-Length %d", s.got, s.declared)
		} else {
			s.bodyErr = io.EOF
		}
	}
	s.c.wake(s, false)
	s.finishLocked()
}

func (c *conn) onTrailers(s *stream, f *block) error {
	if !f.StreamEnded() {
		c.resetStream(s.id, codeProtocol, "trailers without END_STREAM")
		return nil
	}
	if len(f.PseudoFields()) > 0 {
		c.resetStream(s.id, codeProtocol, "pseudo-header in trailers")
		return nil
	}
	tr := make(http.Header, len(f.Fields))
	for _, hf := range f.RegularFields() {
		k := c.canonical(hf.Name)
		tr[k] = append(tr[k], hf.Value)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.dead {
		return nil
	}
	s.trailer = tr
	s.endResponseLocked()
	return nil
}

func (c *conn) buildResponse(s *stream, f *block) (*http.Response, int, error) {
	if ps := f.PseudoFields(); len(ps) != 1 || ps[0].Name != ":status" {
		return nil, 0, fmt.Errorf("response pseudo-headers %v, want :status alone", ps)
	}
	status := f.PseudoValue("status")
	code, err := strconv.Atoi(status)
	if err != nil || len(status) != 3 || code < 100 {
		return nil, 0, fmt.Errorf("malformed :status %q", status)
	}
	if code == http.StatusSwitchingProtocols {
		return nil, 0, errors.New("101 Switching Protocols over HTTP/2")
	}
	if code < 200 {
		return nil, code, nil
	}
	regular := f.RegularFields()
	// One backing array for every header's first value: one allocation, not one per header.
	strs := make([]string, len(regular))
	h := make(http.Header, len(regular))
	var trailer http.Header
	for _, hf := range regular {
		k := c.canonical(hf.Name)
		if k == "Trailer" {
			if trailer == nil {
				trailer = make(http.Header)
			}
			for _, t := range strings.Split(hf.Value, ",") {
				if t = strings.TrimSpace(t); t != "" {
					trailer[http.CanonicalHeaderKey(t)] = nil
				}
			}
		}
		vv := h[k]
		if vv == nil && len(strs) > 0 {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = hf.Value
			h[k] = vv
		} else {
			h[k] = append(vv, hf.Value)
		}
	}
	cl := int64(-1)
	if v := h["Content-Length"]; len(v) == 1 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			cl = n
		} else {
			return nil, 0, fmt.Errorf("malformed Content-Length %q", v[0])
		}
	} else if len(v) > 1 {
		return nil, 0, errors.New("more than one Content-Length")
	}
	if f.StreamEnded() && cl > 0 && s.q.r.Method != http.MethodHead {
		return nil, 0, fmt.Errorf("Content-Length %d on a response without a body", cl)
	}
	return &http.Response{
		Status:        statusText(code, status),
		StatusCode:    code,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        h,
		Trailer:       trailer,
		ContentLength: cl,
		Request:       s.q.r,
		TLS:           c.tlsState,
	}, code, nil
}

func statusText(code int, status string) string {
	switch code {
	case 200:
		return "200 OK"
	case 403:
		return "403 Forbidden"
	case 404:
		return "404 Not Found"
	case 502:
		return "502 Bad Gateway"
	case 503:
		return "503 Service Unavailable"
	}
	return status + " " + http.StatusText(code)
}

// canonical returns the canonical key of a wire header name, from a bounded per-connection cache.
func (c *conn) canonical(name string) string {
	if k, ok := c.canon[name]; ok {
		return k
	}
	k := http.CanonicalHeaderKey(name)
	if len(c.canon) < 256 {
		c.canon[name] = k
	}
	return k
}
