package httpfwd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
)

// respReader reads the answers on one upstream connection. The heads hosts usually send (HTTP/1.1, CRLF
// line ends, well-formed fields, one plain Content-Length or "Transfer-Encoding: chunked", the whole
// head in the connection's 4 KiB buffer) are parsed from the buffer in place: all of a head's strings
// are cut out of one string, the value slices out of one array, and common field names are constants.
// Any other head is left, unread, to http.ReadResponse, and its connection is not reused: what the
// fast path does not take is rare enough that no answer of it is worth a doubt about where the next
// one starts.
type respReader struct {
	br *bufio.Reader

	// For exchanges whose caller releases the answer by closing its body (Forward): the response and
	// its header map are used again by the connection's next exchange.
	resp http.Response
	hdr  http.Header
}

// release drops the references the pooled response holds. The header map keeps its room for the next
// answer, unless a host made it large: a thousand tiny fields must not stay with an idle connection.
func (rr *respReader) release() {
	rr.resp = http.Response{}
	if len(rr.hdr) > 32 {
		rr.hdr = nil
	} else {
		clear(rr.hdr)
	}
}

// errFieldNameSpace is an answer that net/http would take but this client refuses: whitespace inside
// a header or trailer field name ("Content-Length : 5" is not a Content-Length to net/http, and may
// be one to the next hop; RFC 9112 §5.1).
var errFieldNameSpace = errors.New("upstream answer has whitespace in a header field name")

// errVersion is an answer in a protocol version other than HTTP/1.0 and HTTP/1.1, which net/http takes.
var errVersion = errors.New("upstream answer is not HTTP/1.0 or HTTP/1.1")

// readHead reads one answer's status line and header, setting up the body's framing in f. fast
// reports whether the answer was read by the fast path (the connection may be reused after it).
// pooled answers are the reader's own response and header map, valid until the next readHead.
func (rr *respReader) readHead(req *http.Request, pooled bool, f *framing) (resp *http.Response, fast bool, err error) {
	head, err := peekHead(rr.br)
	if err == nil {
		if pooled {
			resp = &rr.resp
			if rr.hdr == nil {
				rr.hdr = make(http.Header, 16)
			}
			clear(rr.hdr)
			*resp = http.Response{Header: rr.hdr}
		} else {
			resp = &http.Response{}
		}
		if parseHead(head, req, resp, f, rr.br) {
			rr.br.Discard(len(head))
			return resp, true, nil
		}
	} else if err != bufio.ErrBufferFull {
		return nil, false, err
	}
	resp, err = http.ReadResponse(rr.br, req)
	if err != nil {
		return nil, false, err
	}
	if err := stricter(resp.Header); err != nil {
		return nil, false, err
	}
	if resp.ProtoMajor != 1 || resp.ProtoMinor > 1 {
		return nil, false, errVersion
	}
	*f = framing{kind: viaNetHTTP, rc: resp.Body, resp: resp}
	return resp, false, nil
}

// stricter refuses field names net/http takes though they hold whitespace.
func stricter(h http.Header) error {
	for k := range h {
		if strings.ContainsAny(k, " \t") {
			return errFieldNameSpace
		}
	}
	return nil
}

// peekHead returns the buffered head of the next answer, up to and including its empty line, without
// consuming it; bufio.ErrBufferFull when the head does not fit in the buffer.
func peekHead(br *bufio.Reader) ([]byte, error) {
	scanned, want := 0, 1
	for {
		_, err := br.Peek(want)
		buf, _ := br.Peek(br.Buffered())
	scan:
		for {
			k := bytes.IndexByte(buf[scanned:], '\n')
			if k < 0 {
				scanned = len(buf)
				break
			}
			k += scanned
			if k+1 >= len(buf) {
				scanned = k
				break
			}
			switch buf[k+1] {
			case '\n':
				return buf[:k+2], nil
			case '\r':
				if k+2 >= len(buf) {
					scanned = k
					break scan
				}
				if buf[k+2] == '\n' {
					return buf[:k+3], nil
				}
			}
			scanned = k + 1
		}
		if err != nil {
			return nil, err
		}
		want = len(buf) + 1
		if want > br.Size() {
			return nil, bufio.ErrBufferFull
		}
	}
}

// parseHead fills resp and f from a head that peekHead found, as http.ReadResponse and net/http's
// transfer rules would, and reports whether it could: false leaves the head to http.ReadResponse.
func parseHead(head []byte, req *http.Request, resp *http.Response, f *framing, br *bufio.Reader) bool {
	eol := bytes.IndexByte(head, '\n')
	line := head[:eol]
	// "HTTP/1.1 200" and an optional " reason", CRLF-terminated.
	if len(line) < 13 || line[len(line)-1] != '\r' || string(line[:9]) != "HTTP/1.1 " {
		return false
	}
	line = line[:len(line)-1]
	c := line[9:12]
	if c[0] < '1' || c[0] > '5' || !isDigit(c[1]) || !isDigit(c[2]) || len(line) > 12 && line[12] != ' ' {
		return false
	}
	for _, b := range line[12:] {
		if !validValueByte(b) {
			return false
		}
	}
	s := string(head) // every string of the answer is a piece of this one
	resp.Status = s[9:len(line)]
	resp.StatusCode = int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0')
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	resp.Request = req
	if !parseFields(head, s, eol+1, resp) {
		return false
	}
	return setFraming(req, resp, f, br)
}

// parseFields adds the header fields of head, from offset pos to its empty line, to resp.Header (made
// here when nil): values cut out of s (head as a string), one array behind every field's first value
// (as textproto), and names in net/http's canonical form.
func parseFields(head []byte, s string, pos int, resp *http.Response) bool {
	var strs []string
	n := bytes.Count(head[pos:], []byte{'\n'}) - 1
	if n > 0 {
		strs = make([]string, n)
	}
	if resp.Header == nil {
		resp.Header = make(http.Header, n)
	}
	h := resp.Header
	var canon [128]byte
	for {
		eol := pos + bytes.IndexByte(head[pos:], '\n')
		if eol == pos || head[eol-1] != '\r' {
			return false // a bare LF
		}
		if eol == pos+1 {
			return true // the empty line
		}
		line := head[pos : eol-1]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || len(line[:colon]) > len(canon) {
			return false // also a line starting with whitespace (obs-fold): no token byte is
		}
		upper := true
		for i, b := range line[:colon] {
			if !validNameByte(b) {
				return false
			}
			switch {
			case upper && 'a' <= b && b <= 'z':
				b -= 'a' - 'A'
			case !upper && 'A' <= b && b <= 'Z':
				b += 'a' - 'A'
			}
			canon[i] = b
			upper = b == '-'
		}
		name := canon[:colon]
		vs, ve := colon+1, len(line)
		for _, b := range line[vs:] {
			if !validValueByte(b) {
				return false
			}
		}
		for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
			vs++
		}
		for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
			ve--
		}
		key := commonFields[string(name)]
		if key == "" {
			if bytes.Equal(name, line[:colon]) {
				key = s[pos : pos+colon]
			} else {
				key = string(name)
			}
		}
		value := s[pos+vs : pos+ve]
		if vv, ok := h[key]; !ok && len(strs) > 0 {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = value
			h[key] = vv
		} else {
			h[key] = append(vv, value)
		}
		pos = eol + 1
	}
}

// setFraming applies net/http's transfer rules (readTransfer) to a parsed head: Transfer-Encoding,
// Content-Length, Trailer, Connection: close, Pragma; false for the heads it leaves to net/http
// (several or unusual values, both framings at once).
func setFraming(req *http.Request, resp *http.Response, f *framing, br *bufio.Reader) bool {
	h := resp.Header
	chunked := false
	if te, ok := h["Transfer-Encoding"]; ok {
		if len(te) != 1 || !asciiEqualFold(te[0], "chunked") {
			return false
		}
		chunked = true
	}
	length := int64(-1)
	if cl, ok := h["Content-Length"]; ok {
		if len(cl) != 1 || chunked {
			return false
		}
		v := cl[0]
		if len(v) == 0 || len(v) > 18 {
			return false
		}
		length = 0
		for i := 0; i < len(v); i++ {
			if !isDigit(v[i]) {
				return false
			}
			length = length*10 + int64(v[i]-'0')
		}
	}
	if chunked {
		if tv, ok := h["Trailer"]; ok {
			if resp.Trailer, ok = announcedTrailers(tv); !ok {
				return false
			}
			delete(h, "Trailer")
		}
		delete(h, "Transfer-Encoding")
		resp.TransferEncoding = chunkedTE()
	}
	if headerValuesContainToken(h["Connection"], "close") {
		resp.Close = true
		delete(h, "Connection")
	}
	if pv := h["Pragma"]; len(pv) > 0 && pv[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}

	setBody(req, resp, f, br, chunked, length)
	return true
}

// setBody chooses how the body is read, as net/http's readTransfer: none after HEAD or for a status
// that has none (whatever the framing fields said), chunks, a length, or the rest of the connection
// (which then closes).
func setBody(req *http.Request, resp *http.Response, f *framing, br *bufio.Reader, chunked bool, length int64) {
	head := req != nil && req.Method == http.MethodHead
	allowed := bodyAllowed(resp.StatusCode)
	*f = framing{kind: noBody, br: br, resp: resp}
	switch {
	case head:
		resp.ContentLength = length
	case !allowed:
		resp.ContentLength = 0
	case chunked:
		resp.ContentLength = -1
		f.kind = chunkedBody
		f.cr = newChunkedReader(br)
	case length >= 0:
		resp.ContentLength = length
		if length > 0 {
			f.kind, f.n = lengthBody, length
		}
	default:
		resp.ContentLength = -1
		resp.Close = true
		f.kind = closeBody
	}
	if f.kind == noBody {
		resp.Body = http.NoBody
	} else {
		resp.Body = f
	}
}

// announcedTrailers is the Trailer map net/http makes of a chunked answer's Trailer fields (nil when
// they name none); false for names it refuses or that are not tokens.
func announcedTrailers(vv []string) (http.Header, bool) {
	var t http.Header
	for _, v := range vv {
		for k := range strings.SplitSeq(v, ",") {
			k = strings.Trim(k, " \t")
			if k == "" {
				continue
			}
			for i := 0; i < len(k); i++ {
				if !validNameByte(k[i]) {
					return nil, false
				}
			}
			k = http.CanonicalHeaderKey(k)
			switch k {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, false
			}
			if t == nil {
				t = make(http.Header)
			}
			t[k] = nil
		}
	}
	return t, true
}

var newChunkedReader = httputil.NewChunkedReader

func chunkedTE() []string { return []string{"chunked"} }

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// asciiEqualFold is strings.EqualFold for ASCII only, as net/http compares tokens: Unicode folding
// would take "chunKed" (with a Kelvin sign) for "chunked".
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// validNameByte is a token byte (RFC 9110 §5.6.2), as textproto checks field names.
func validNameByte(b byte) bool {
	return b < 128 && nameBytes[b]
}

var nameBytes = func() (t [128]bool) {
	for _, b := range []byte("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t[b] = true
	}
	return t
}()

// validValueByte is a field value byte as textproto checks them: visible ASCII, SP, HTAB or obs-text.
func validValueByte(b byte) bool {
	return b == '\t' || b >= 0x20 && b != 0x7f
}

// commonFields are the canonical names of the fields hosts send most, so that parsing them allocates
// nothing.
var commonFields = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Max-Age", "Age", "Alt-Svc", "Cache-Control", "Cf-Cache-Status", "Cf-Ray",
		"Connection", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
		"Content-Location", "Content-Range", "Content-Security-Policy", "Content-Type",
		"Cross-Origin-Embedder-Policy", "Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy",
		"Date", "Etag", "Expires", "Keep-Alive", "Last-Modified", "Link", "Location", "Nel",
		"Permissions-Policy", "Pragma", "Proxy-Authenticate", "Referrer-Policy", "Report-To",
		"Retry-After", "Server", "Server-Timing", "Set-Cookie", "Strict-Transport-Security",
		"Timing-Allow-Origin", "Trailer", "Transfer-Encoding", "Upgrade", "Vary", "Via",
		"Www-Authenticate", "X-Amz-Cf-Id", "X-Amz-Cf-Pop", "X-Amz-Id-2", "X-Amz-Request-Id", "X-Cache",
		"X-Content-Type-Options", "X-Envoy-Upstream-Service-Time", "X-Frame-Options", "X-Powered-By",
		"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "X-Request-Id",
		"X-Served-By", "X-Timer", "X-Xss-Protection",
	} {
		m[k] = k
	}
	return m
}()

// Body framings.
const (
	noBody      = iota
	lengthBody  // Content-Length bytes
	chunkedBody // chunks, then trailers
	closeBody   // to the connection's end
	viaNetHTTP  // net/http's reader (an answer http.ReadResponse read)
)

// framing reads one answer's body from the connection's buffer as net/http's body reader would: an
// early end is io.ErrUnexpectedEOF, a chunked body's trailers go into resp.Trailer.
type framing struct {
	kind int
	br   *bufio.Reader
	resp *http.Response
	n    int64         // what remains of a lengthBody
	cr   io.Reader     // a chunkedBody's chunk reader
	rc   io.ReadCloser // viaNetHTTP's reader
	eof  bool
}

func (f *framing) Read(p []byte) (int, error) {
	if f.eof {
		return 0, io.EOF
	}
	n, err := f.read(p)
	if err == io.EOF {
		f.eof = true
	}
	return n, err
}

func (f *framing) read(p []byte) (int, error) {
	switch f.kind {
	case lengthBody:
		if int64(len(p)) > f.n {
			p = p[:f.n]
		}
		n, err := f.br.Read(p)
		f.n -= int64(n)
		if f.n == 0 {
			return n, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	case chunkedBody:
		n, err := f.cr.Read(p)
		if err == io.EOF {
			if terr := readTrailer(f.br, f.resp); terr != nil {
				return n, terr
			}
		}
		return n, err
	case closeBody:
		return f.br.Read(p)
	case viaNetHTTP:
		n, err := f.rc.Read(p)
		if err == io.EOF {
			if serr := stricter(f.resp.Trailer); serr != nil {
				return n, serr
			}
		}
		return n, err
	}
	return 0, io.EOF
}

// Close is never called by the client (it closes the connection instead); it exists for io.ReadCloser.
func (f *framing) Close() error { return nil }

var errTrailerEOF = errors.New("upstream answer ended before its trailers did")

// readTrailer reads the trailer section after a chunked body's last chunk, as net/http's body reader
// does: at most what fits in the connection's buffer, any field whether announced or not.
func readTrailer(br *bufio.Reader, resp *http.Response) error {
	buf, err := br.Peek(2)
	if string(buf) == "\r\n" {
		br.Discard(2)
		return nil
	}
	if len(buf) < 2 {
		return errTrailerEOF
	}
	if err != nil {
		return err
	}
	if !seeUpcomingDoubleCRLF(br) {
		return errors.New("upstream answer's trailers exceed 4 KiB")
	}
	hdr, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			return errTrailerEOF
		}
		return fmt.Errorf("reading the upstream's trailers: %w", err)
	}
	if err := stricter(http.Header(hdr)); err != nil {
		return err
	}
	if resp.Trailer == nil {
		resp.Trailer = http.Header(hdr)
		return nil
	}
	for k, vv := range hdr {
		resp.Trailer[k] = vv
	}
	return nil
}

func seeUpcomingDoubleCRLF(r *bufio.Reader) bool {
	for peekSize := 4; ; peekSize++ {
		buf, err := r.Peek(peekSize)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			return true
		}
		if err != nil {
			return false
		}
	}
}
