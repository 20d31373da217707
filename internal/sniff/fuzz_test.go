package sniff

import (
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzClientHello from live crypto/tls clients")

// corpusConfigs are the clients whose real ClientHellos seed the fuzzer.
var corpusConfigs = map[string]*tls.Config{
	"sni-alpn": {ServerName: "api.example.com", NextProtos: []string{"h2", "http/1.1"}},
	"no-sni":   {ServerName: "127.0.0.1", InsecureSkipVerify: true},
	"tls12":    {ServerName: "old.example.com", MaxVersion: tls.VersionTLS12},
	"tls13-h2": {ServerName: "new.example.com", MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}},
}

// TestFuzzCorpusFromCryptoTLS keeps the checked-in seed corpus honest: with
// -update-corpus it captures fresh ClientHellos (whole, truncated and cut
// after the record header); without it, it checks every whole seed still
// parses. Checked-in files keep the seeds identical across runs and machines.
func TestFuzzCorpusFromCryptoTLS(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzClientHello")
	for name, cfg := range corpusConfigs {
		path := filepath.Join(dir, "crypto-tls-"+name)
		if *updateCorpus {
			raw, _ := captureHello(t, cfg)
			os.MkdirAll(dir, 0o755)
			for suffix, b := range map[string][]byte{"": raw, "-truncated": raw[:len(raw)/2], "-header-only": raw[:5]} {
				content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
				if err := os.WriteFile(path+suffix, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		content, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("seed missing (run go test -run TestFuzzCorpus -update-corpus): %v", err)
		}
		lines := strings.Split(string(content), "\n")
		raw, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		h, _, err := ClientHello(strings.NewReader(raw))
		if err != nil || h.ServerName != strings.TrimSuffix(cfg.ServerName, "127.0.0.1") {
			t.Errorf("%s: hello %+v, err %v", path, h, err)
		}
	}
}

// FuzzClientHello (run with -fuzzminimizetime 2s on a busy machine: the
// default minimisation of each new input takes a minute) checks that no input panics, that the consumed bytes are
// always a prefix of the input, and that the result does not depend on how
// the input is split across reads.
func FuzzClientHello(f *testing.F) {
	body := clientHelloBody(sniExt("frag.example"), alpnExt("h2"))
	f.Add(records(body, 7))
	f.Add(records(clientHelloBody(sniExt("a", "b")), 100))
	f.Add(records(clientHelloBody(sniExt("dup"), sniExt("dup")), 100))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 3, 1, 0, 0})
	f.Add([]byte{0x16, 3, 1, 0xff, 0xff, 1, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, consumed, err := ClientHello(bytes.NewReader(data))
		if !bytes.HasPrefix(data, consumed) {
			t.Fatalf("consumed %x is not a prefix of the input", consumed)
		}
		h2, consumed2, err2 := ClientHello(iotest.OneByteReader(bytes.NewReader(data)))
		if !bytes.Equal(consumed, consumed2) || (err == nil) != (err2 == nil) || h.ServerName != h2.ServerName {
			t.Fatalf("split reads changed the result: %q/%v vs %q/%v", h.ServerName, err, h2.ServerName, err2)
		}
		if err == nil {
			// A successful parse must be reproducible from its own bytes.
			h3, consumed3, err3 := ClientHello(bytes.NewReader(consumed))
			if err3 != nil || !bytes.Equal(consumed3, consumed) || h3.ServerName != h.ServerName {
				t.Fatalf("re-parsing the consumed bytes failed: %v", err3)
			}
		}
	})
}

func FuzzLooksLikeHTTP(f *testing.F) {
	for _, s := range []string{"GET / HTTP/1.1", "CONNECT a:443 HTTP/1.1", "PRI * HTTP/2.0", "\x16\x03\x01", "", "G"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := LooksLikeHTTP(data)
		// The decision only ever looks at the first HTTPPrefixLen bytes.
		if len(data) > HTTPPrefixLen && got != LooksLikeHTTP(data[:HTTPPrefixLen]) {
			t.Fatalf("decision depends on bytes past HTTPPrefixLen")
		}
		if got && !bytes.Contains(data[:min(len(data), HTTPPrefixLen)], []byte(" ")) {
			t.Fatalf("accepted %q without a space after the method", data)
		}
	})
}
