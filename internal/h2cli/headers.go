package h2cli

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// block is the header block being read: HEADERS and its CONTINUATION frames, decoded as they come into
// fields reused from block to block (the reader goroutine's alone). The decoder's emit function is
// bound once per connection, so a response header costs no allocation beyond its strings.
type block struct {
	StreamID   uint32
	endStream  bool
	Truncated  bool // past MaxHeaderListSize: decoded (the table must stay in step), not kept
	Fields     []hpack.HeaderField
	remaining  uint32
	invalid    error
	sawRegular bool
}

func (b *block) StreamEnded() bool { return b.endStream }

// PseudoFields returns the leading pseudo-header fields (they must come first; onField checks it).
func (b *block) PseudoFields() []hpack.HeaderField {
	n := 0
	for n < len(b.Fields) && strings.HasPrefix(b.Fields[n].Name, ":") {
		n++
	}
	return b.Fields[:n]
}

func (b *block) RegularFields() []hpack.HeaderField { return b.Fields[len(b.PseudoFields()):] }

func (b *block) PseudoValue(name string) string {
	for _, f := range b.PseudoFields() {
		if f.Name[1:] == name {
			return f.Value
		}
	}
	return ""
}

// startBlock begins a header block with its HEADERS frame.
func (c *conn) startBlock(f *http2.HeadersFrame) error {
	b := &c.hb
	clear(b.Fields)
	*b = block{StreamID: f.StreamID, endStream: f.StreamEnded(), Fields: b.Fields[:0], remaining: c.t.maxHeaderListSize()}
	c.hdec.SetEmitEnabled(true)
	return c.blockFragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// blockFragment decodes one fragment; the block's end hands it to onHeaders.
func (c *conn) blockFragment(frag []byte, end bool) error {
	b := &c.hb
	// A fragment far past what is left of the limit (or any after it was passed) ends the connection
	// rather than being decoded: endless CONTINUATION frames cost the sidecar nothing.
	if int64(len(frag)) > 2*int64(b.remaining) {
		return &protocolError{code: codeProtocol, reason: fmt.Sprintf("header block past the %d-byte limit", c.t.maxHeaderListSize())}
	}
	if b.invalid != nil && !end {
		return &protocolError{code: codeProtocol, reason: b.invalid.Error()}
	}
	if _, err := c.hdec.Write(frag); err != nil {
		return &protocolError{code: http2.ErrCodeCompression, reason: "HPACK: " + err.Error()}
	}
	if !end {
		return nil
	}
	if err := c.hdec.Close(); err != nil {
		return &protocolError{code: http2.ErrCodeCompression, reason: "HPACK: " + err.Error()}
	}
	if b.invalid != nil {
		c.resetStream(b.StreamID, codeProtocol, b.invalid.Error())
		return nil
	}
	return c.onHeaders(b)
}

var errPseudoAfterRegular = errors.New("pseudo-header after a regular header")

// onField is the decoder's emit function: one field of the current block.
func (c *conn) onField(hf hpack.HeaderField) {
	b := &c.hb
	switch {
	case !httpguts.ValidHeaderFieldValue(hf.Value):
		b.invalid = fmt.Errorf("invalid value in header field %q", hf.Name)
	case strings.HasPrefix(hf.Name, ":"):
		if b.sawRegular {
			b.invalid = errPseudoAfterRegular
		}
	default:
		b.sawRegular = true
		if !validWireName(hf.Name) {
			b.invalid = fmt.Errorf("invalid header field name %q", hf.Name)
		}
	}
	if b.invalid != nil {
		c.hdec.SetEmitEnabled(false)
		return
	}
	if size := hf.Size(); size > b.remaining {
		c.hdec.SetEmitEnabled(false)
		b.Truncated, b.remaining = true, 0
		return
	} else {
		b.remaining -= size
	}
	b.Fields = append(b.Fields, hf)
}

// validWireName is a lower-case token: HTTP/2 field names are never upper-case.
func validWireName(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if !httpguts.IsTokenRune(r) || 'A' <= r && r <= 'Z' {
			return false
		}
	}
	return true
}
