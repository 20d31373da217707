// Package sniff reads the first bytes of a connection (a TLS ClientHello or an HTTP request line) without losing them.
package sniff

import (
	"errors"
	"fmt"
	"io"
)

// MaxHandshakeSize bounds the ClientHello we are willing to buffer; a larger
// one is refused rather than letting a peer make us hold arbitrary memory.
const MaxHandshakeSize = 16 << 10

const (
	recordHeaderLen     = 5
	maxRecordLen        = 16 << 10 // TLSPlaintext.length limit (RFC 8446 §5.1)
	contentHandshake    = 0x16
	handshakeClientHelo = 0x01
	extServerName       = 0
	extALPN             = 16
	sniHostName         = 0
)

// ErrNotTLS means the first byte is not a TLS handshake record, so the caller
// can replay the consumed bytes and try another protocol (HTTP).
var ErrNotTLS = errors.New("sniff: not a TLS handshake")

// ErrTooLarge means the ClientHello exceeds MaxHandshakeSize.
var ErrTooLarge = errors.New("sniff: ClientHello larger than 16 KiB")

// ErrMalformed wraps every structural problem in a TLS-looking stream.
var ErrMalformed = errors.New("sniff: malformed ClientHello")

// Hello is what egret needs from a ClientHello. ServerName is returned as
// sent (no case folding or trailing-dot removal): callers compare it with
// strings.EqualFold against the host they expect.
type Hello struct {
	ServerName string   // empty when the client sent no server_name extension
	ALPN       []string // in client preference order; nil when absent
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// ClientHello reads one TLS ClientHello from r, possibly split across reads
// and across several records, and returns it together with every byte it
// consumed, so the caller can replay them (see PrefixConn). The consumed
// bytes are returned on error too. It never reads past the last record that
// carries the ClientHello. Non-TLS input is detected from the first byte and
// reported as ErrNotTLS after reading only that byte; an empty stream
// returns io.EOF, and read errors are returned as they are.
func ClientHello(r io.Reader) (Hello, []byte, error) {
	hr := helloReader{r: r, consumed: make([]byte, 0, 512)}
	first, err := hr.read(1)
	if err != nil {
		return Hello{}, hr.consumed, err
	}
	if first[0] != contentHandshake {
		return Hello{}, hr.consumed, ErrNotTLS
	}

	// handshake accumulates the handshake-layer bytes, which may be
	// fragmented over several records.
	var handshake []byte
	need := 4 // handshake header, until we know the body length
	for records := 0; len(handshake) < need; records++ {
		body, err := hr.record(records)
		if err != nil {
			return Hello{}, hr.consumed, err
		}
		handshake = append(handshake, body...)
		if need == 4 && len(handshake) >= 4 {
			if handshake[0] != handshakeClientHelo {
				return Hello{}, hr.consumed, malformed("handshake type %d, want ClientHello", handshake[0])
			}
			size := int(handshake[1])<<16 | int(handshake[2])<<8 | int(handshake[3])
			if size > MaxHandshakeSize {
				return Hello{}, hr.consumed, ErrTooLarge
			}
			need = 4 + size
		}
	}
	if len(handshake) != need {
		// Trailing handshake data in the same flight is not something a
		// client sends before the server answers.
		return Hello{}, hr.consumed, malformed("%d unexpected bytes after ClientHello", len(handshake)-need)
	}
	h, err := parseClientHello(handshake[4:])
	return h, hr.consumed, err
}

// helloReader reads the records that carry a ClientHello, keeping every
// byte it consumed so that the caller can replay them.
type helloReader struct {
	r        io.Reader
	consumed []byte
}

// read reads exactly n more bytes; a stream that ends part way is malformed.
func (h *helloReader) read(n int) ([]byte, error) {
	start := len(h.consumed)
	h.consumed = append(h.consumed, make([]byte, n)...)
	got, err := io.ReadFull(h.r, h.consumed[start:])
	h.consumed = h.consumed[:start+got]
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || (errors.Is(err, io.EOF) && start > 0) {
			return nil, malformed("truncated after %d bytes", len(h.consumed))
		}
		return nil, err
	}
	return h.consumed[start:], nil
}

// record reads handshake record number records and returns its body. The
// first record's content type byte has already been read.
func (h *helloReader) record(records int) ([]byte, error) {
	var hdr []byte
	if records == 0 {
		rest, err := h.read(recordHeaderLen - 1)
		if err != nil {
			return nil, err
		}
		hdr = append([]byte{contentHandshake}, rest...)
	} else {
		var err error
		if hdr, err = h.read(recordHeaderLen); err != nil {
			return nil, err
		}
	}
	if hdr[0] != contentHandshake {
		return nil, malformed("record %d has content type %d, want handshake", records, hdr[0])
	}
	if hdr[1] != 3 || hdr[2] > 4 {
		if records == 0 {
			return nil, ErrNotTLS
		}
		return nil, malformed("record %d has version %d.%d", records, hdr[1], hdr[2])
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if n == 0 {
		return nil, malformed("empty handshake record")
	}
	if n > maxRecordLen {
		return nil, malformed("record length %d exceeds %d", n, maxRecordLen)
	}
	return h.read(n)
}
