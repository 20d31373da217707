package sniff

import (
	"bytes"
	"crypto/tls"
	"testing"
)

func BenchmarkClientHello(b *testing.B) {
	raw, _ := captureHello(b, &tls.Config{ServerName: "api.example.com", NextProtos: []string{"h2", "http/1.1"}})
	r := bytes.NewReader(raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(raw)
		if _, _, err := ClientHello(r); err != nil {
			b.Fatal(err)
		}
	}
}
