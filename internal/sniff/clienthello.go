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
	consumed := make([]byte, 0, 512)
	read := func(n int) ([]byte, error) {
		start := len(consumed)
		consumed = append(consumed, make([]byte, n)...)
		got, err := io.ReadFull(r, consumed[start:])
		consumed = consumed[:start+got]
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || (errors.Is(err, io.EOF) && start > 0) {
				return nil, malformed("truncated after %d bytes", len(consumed))
			}
			return nil, err
		}
		return consumed[start:], nil
	}

	first, err := read(1)
	if err != nil {
		return Hello{}, consumed, err
	}
	if first[0] != contentHandshake {
		return Hello{}, consumed, ErrNotTLS
	}

	// handshake accumulates the handshake-layer bytes, which may be
	// fragmented over several records.
	var handshake []byte
	need := 4 // handshake header, until we know the body length
	for records := 0; len(handshake) < need; records++ {
		var hdr []byte
		if records == 0 {
			rest, err := read(recordHeaderLen - 1)
			if err != nil {
				return Hello{}, consumed, err
			}
			hdr = append([]byte{contentHandshake}, rest...)
		} else {
			if hdr, err = read(recordHeaderLen); err != nil {
				return Hello{}, consumed, err
			}
		}
		if hdr[0] != contentHandshake {
			return Hello{}, consumed, malformed("record %d has content type %d, want handshake", records, hdr[0])
		}
		if hdr[1] != 3 || hdr[2] > 4 {
			if records == 0 {
				return Hello{}, consumed, ErrNotTLS
			}
			return Hello{}, consumed, malformed("record %d has version %d.%d", records, hdr[1], hdr[2])
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if n == 0 {
			return Hello{}, consumed, malformed("empty handshake record")
		}
		if n > maxRecordLen {
			return Hello{}, consumed, malformed("record length %d exceeds %d", n, maxRecordLen)
		}
		body, err := read(n)
		if err != nil {
			return Hello{}, consumed, err
		}
		handshake = append(handshake, body...)
		if need == 4 && len(handshake) >= 4 {
			if handshake[0] != handshakeClientHelo {
				return Hello{}, consumed, malformed("handshake type %d, want ClientHello", handshake[0])
			}
			size := int(handshake[1])<<16 | int(handshake[2])<<8 | int(handshake[3])
			if size > MaxHandshakeSize {
				return Hello{}, consumed, ErrTooLarge
			}
			need = 4 + size
		}
	}
	if len(handshake) != need {
		// Trailing handshake data in the same flight is not something a
		// client sends before the server answers.
		return Hello{}, consumed, malformed("%d unexpected bytes after ClientHello", len(handshake)-need)
	}
	h, err := parseClientHello(handshake[4:])
	return h, consumed, err
}
