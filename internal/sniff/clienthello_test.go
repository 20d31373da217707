package sniff

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

func TestClientHelloMatchesCryptoTLS(t *testing.T) {
	tests := []struct {
		name string
		cfg  *tls.Config
	}{
		{"server name and two ALPN protocols", &tls.Config{ServerName: "api.example.com", NextProtos: []string{"h2", "http/1.1"}}},
		{"server name only", &tls.Config{ServerName: "www.google.com"}},
		{"no server name when dialing an IP", &tls.Config{ServerName: "127.0.0.1", InsecureSkipVerify: true}},
		{"TLS 1.2 only client", &tls.Config{ServerName: "legacy.example.org", MaxVersion: tls.VersionTLS12}},
		{"TLS 1.3 only client", &tls.Config{ServerName: "new.example.org", MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}}},
		{"wildcard-covered subdomain", &tls.Config{ServerName: "a.b.example.com", NextProtos: []string{"http/1.1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, info := captureHello(t, tt.cfg)
			trailing := append(bytes.Clone(raw), "application data"...)
			for _, reader := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", bytes.NewReader(trailing)},
				{"one byte per read", iotest.OneByteReader(bytes.NewReader(trailing))},
				{"half reads", iotest.HalfReader(bytes.NewReader(trailing))},
			} {
				h, consumed, err := ClientHello(reader.r)
				if err != nil {
					t.Fatalf("%s: %v", reader.name, err)
				}
				if !bytes.Equal(consumed, raw) {
					t.Fatalf("%s: consumed %d bytes, want exactly the %d of the hello", reader.name, len(consumed), len(raw))
				}
				if h.ServerName != info.ServerName {
					t.Errorf("%s: ServerName = %q, crypto/tls saw %q", reader.name, h.ServerName, info.ServerName)
				}
				if !slices.Equal(h.ALPN, info.SupportedProtos) {
					t.Errorf("%s: ALPN = %q, crypto/tls saw %q", reader.name, h.ALPN, info.SupportedProtos)
				}
			}
		})
	}
}

func TestClientHelloSpanningRecords(t *testing.T) {
	body := clientHelloBody(sniExt("split.example.com"), alpnExt("h2", "http/1.1"))
	for _, frag := range []int{1, 3, 4, 5, 40, len(body) + 3} {
		data := records(body, frag)
		h, consumed, err := ClientHello(iotest.OneByteReader(bytes.NewReader(append(bytes.Clone(data), 0x17, 3, 3))))
		if err != nil {
			t.Fatalf("fragment %d: %v", frag, err)
		}
		if h.ServerName != "split.example.com" || !slices.Equal(h.ALPN, []string{"h2", "http/1.1"}) {
			t.Errorf("fragment %d: got %+v", frag, h)
		}
		if !bytes.Equal(consumed, data) {
			t.Errorf("fragment %d: consumed %d bytes, want %d", frag, len(consumed), len(data))
		}
	}
}

func TestClientHelloWithoutExtensionsHasNoSNI(t *testing.T) {
	body := clientHelloBody()
	body = body[:len(body)-2] // drop the (empty) extensions length entirely
	h, _, err := ClientHello(bytes.NewReader(records(body, 1000)))
	if err != nil || h.ServerName != "" || h.ALPN != nil {
		t.Fatalf("got %+v, %v; want empty hello and no error", h, err)
	}
}

func TestClientHelloRejects(t *testing.T) {
	valid := records(clientHelloBody(sniExt("ok.example.com")), 1000)
	big := clientHelloBody(ext(21, make([]byte, MaxHandshakeSize))) // padding extension
	tests := []struct {
		name     string
		input    []byte
		want     error
		consumed int // -1: all of input
	}{
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), ErrNotTLS, 1},
		{"SSH banner", []byte("SSH-2.0-OpenSSH_9.6\r\n"), ErrNotTLS, 1},
		{"handshake byte then junk version", []byte{0x16, 'G', 'E', 'T', ' '}, ErrNotTLS, 5},
		{"empty input", nil, io.EOF, 0},
		{"truncated header", valid[:3], ErrMalformed, -1},
		{"truncated body", valid[:len(valid)-1], ErrMalformed, -1},
		{"handshake over 16 KiB", records(big, 16384), ErrTooLarge, 16384 + 5},
		{"record over 16 KiB", []byte{0x16, 3, 1, 0x40, 0x01}, ErrMalformed, 5},
		{"zero-length record", []byte{0x16, 3, 1, 0, 0}, ErrMalformed, 5},
		{"ServerHello instead of ClientHello", func() []byte { b := bytes.Clone(valid); b[5] = 2; return b }(), ErrMalformed, -1},
		{"alert record in the middle", append(records(clientHelloBody(sniExt("a.example")), 10)[:15], 0x15, 3, 1, 0, 2, 2, 40), ErrMalformed, 20},
		{"duplicate server_name extension", records(clientHelloBody(sniExt("a.example"), sniExt("b.example")), 1000), ErrMalformed, -1},
		{"two host names", records(clientHelloBody(sniExt("a.example", "b.example")), 1000), ErrMalformed, -1},
		{"NUL byte in server name", records(clientHelloBody(sniExt("good.example\x00.evil")), 1000), ErrMalformed, -1},
		{"empty ALPN protocol", records(clientHelloBody(alpnExt("h2", "")), 1000), ErrMalformed, -1},
		{"extension longer than its block", records(append(clientHelloBody(), 0, 0, 0, 9), 1000), ErrMalformed, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, consumed, err := ClientHello(bytes.NewReader(tt.input))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v (hello %+v)", err, tt.want, h)
			}
			want := tt.consumed
			if want < 0 {
				want = len(tt.input)
			}
			if len(consumed) != want || !bytes.HasPrefix(tt.input, consumed) {
				t.Errorf("consumed %d bytes, want the first %d of the input", len(consumed), want)
			}
		})
	}
}

func TestClientHelloPassesThroughReadErrors(t *testing.T) {
	boom := errors.New("boom")
	_, consumed, err := ClientHello(io.MultiReader(bytes.NewReader([]byte{0x16, 3}), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
	if !bytes.Equal(consumed, []byte{0x16, 3}) {
		t.Errorf("consumed = %x, want 1603", consumed)
	}
}

func TestLooksLikeHTTP(t *testing.T) {
	tests := []struct {
		prefix string
		want   bool
	}{
		{"GET / HTTP/1.1", true},
		{"CONNECT api.example.com:443 HTTP/1.1", true},
		{"OPTIONS ", true},
		{"PRI * HTTP/2.0", true},
		{"DELETE /x", true},
		{"GET", false},          // too short to be sure
		{"get / ", false},       // methods are case-sensitive
		{"GETX / ", false},      // not a method token
		{"\x16\x03\x01", false}, // TLS
		{"", false},
		{"SSH-2.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if got := LooksLikeHTTP([]byte(tt.prefix)); got != tt.want {
				t.Errorf("LooksLikeHTTP(%q) = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}
}
