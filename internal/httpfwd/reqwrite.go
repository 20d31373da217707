package httpfwd

import (
	"bufio"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// writeHead writes a request without a body exactly as http.Request.Write would (the same bytes, the
// headers in the same sorted order), without its formatting allocations. It reports false, having
// written nothing, for a request it leaves to Request.Write: one with a body, an opaque URL, a host or
// header that Request.Write would rewrite or refuse (non-ASCII, control characters, line breaks).
func writeHead(bw *bufio.Writer, r *http.Request) bool {
	host, ok := plainHead(r)
	if !ok {
		return false
	}
	ua, sendUA, ok := userAgent(r.Header)
	if !ok {
		return false
	}
	var keysBuf [32]string
	keys, ok := plainHeaderKeys(r.Header, keysBuf[:0])
	if !ok {
		return false
	}
	slices.Sort(keys)

	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	writeRequestLine(bw, method, r.URL, host)
	if sendUA {
		bw.WriteString("User-Agent: ")
		bw.WriteString(ua)
		bw.WriteString("\r\n")
	}
	// net/http's transfer headers for a request without a body: Connection: close when the request
	// closes, and a zero Content-Length for the methods servers expect one with.
	if r.Close && !hasToken(r.Header["Connection"], "close") {
		bw.WriteString("Connection: close\r\n")
	}
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		bw.WriteString("Content-Length: 0\r\n")
	}
	for _, k := range keys {
		for _, v := range r.Header[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	return true
}

// plainHead returns the host to write, and whether r is a request writeHead writes as Request.Write
// would: no body, no trailers, a plain host, method and query.
func plainHead(r *http.Request) (string, bool) {
	if (r.Body != nil && r.Body != http.NoBody) || r.ContentLength != 0 || r.URL == nil || r.URL.Opaque != "" ||
		len(r.TransferEncoding) > 0 || len(r.Trailer) > 0 {
		return "", false
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	if host == "" || !plainHost(host) || r.Method == http.MethodConnect || (r.Method != "" && !validFieldName(r.Method)) ||
		!plainValue(r.URL.RawQuery) {
		return "", false
	}
	return host, true
}

// userAgent is the User-Agent Request.Write sends (its own when the header is absent, none when it is
// empty), and false when the value is not plain.
func userAgent(h http.Header) (ua string, send, ok bool) {
	v, set := h["User-Agent"]
	if !set {
		return "Go-http-client/1.1", true, true
	}
	if len(v) == 0 || v[0] == "" {
		return "", false, true
	}
	if !plainValue(v[0]) {
		return "", false, false
	}
	return textproto.TrimString(v[0]), true, true
}

// plainHeaderKeys appends to keys the header names writeHead writes itself, and false when a name or
// value is not plain.
func plainHeaderKeys(h http.Header, keys []string) ([]string, bool) {
	for k, vv := range h {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if !validFieldName(k) {
			return nil, false
		}
		for _, v := range vv {
			if !plainValue(v) {
				return nil, false
			}
		}
		keys = append(keys, k)
	}
	return keys, true
}

// writeRequestLine writes the request line and the Host header.
func writeRequestLine(bw *bufio.Writer, method string, u *url.URL, host string) {
	bw.WriteString(method)
	bw.WriteByte(' ')
	if p := u.EscapedPath(); p != "" {
		bw.WriteString(p)
	} else {
		bw.WriteByte('/')
	}
	if u.ForceQuery || u.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
}

// hasToken is net/http's check of the first Connection value for a token.
func hasToken(v []string, token string) bool {
	if len(v) == 0 {
		return false
	}
	return headerValuesContainToken(v[:1], token)
}

// plainHost reports whether a Host needs no punycode and passes net/http's check as it is.
func plainHost(h string) bool {
	if strings.Contains(h, "%") { // a zone, which Request.Write removes
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

// plainValue reports whether a header value has no byte Request.Write would replace (line breaks)
// and no other control character.
func plainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validFieldName reports whether k is an RFC 9110 token, as net/http requires of a header name.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
