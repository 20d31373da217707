package httpfwd

import (
	"bufio"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// writeHead writes a request without a body exactly as http.Request.Write would (the same bytes, the
// headers in the same sorted order), without its formatting allocations. It reports false, having
// written nothing, for a request it leaves to Request.Write: one with a body, an opaque URL, a host or
// header that Request.Write would rewrite or refuse (non-ASCII, control characters, line breaks).
func writeHead(bw *bufio.Writer, r *http.Request) bool {
	if (r.Body != nil && r.Body != http.NoBody) || r.ContentLength != 0 || r.URL == nil || r.URL.Opaque != "" ||
		len(r.TransferEncoding) > 0 || len(r.Trailer) > 0 {
		return false
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	if host == "" || !plainHost(host) || r.Method == http.MethodConnect || (r.Method != "" && !validFieldName(r.Method)) ||
		!plainValue(r.URL.RawQuery) {
		return false
	}
	ua, sendUA := "Go-http-client/1.1", true
	if v, ok := r.Header["User-Agent"]; ok {
		ua, sendUA = "", false
		if len(v) > 0 {
			ua = v[0]
			sendUA = ua != ""
		}
		if !plainValue(ua) {
			return false
		}
		ua = textproto.TrimString(ua)
	}
	var keysBuf [32]string
	keys := keysBuf[:0]
	for k, vv := range r.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if !validFieldName(k) {
			return false
		}
		for _, v := range vv {
			if !plainValue(v) {
				return false
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)

	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	if p := r.URL.EscapedPath(); p != "" {
		bw.WriteString(p)
	} else {
		bw.WriteByte('/')
	}
	if r.URL.ForceQuery || r.URL.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
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
