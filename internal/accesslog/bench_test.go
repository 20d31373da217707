package accesslog

import (
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"
)

func BenchmarkAppendJSON(b *testing.B) {
	e := istioExample()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], e)
	}
}

func BenchmarkAppendText(b *testing.B) {
	e := istioExample()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendText(buf[:0], e)
	}
}

// BenchmarkEncodingJSONBaseline is the same record through encoding/json
// with a map, for comparison with the hand-rolled encoder.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	e := istioExample()
	b.ReportAllocs()
	for b.Loop() {
		m := map[string]any{
			FieldStartTime: e.StartTime, FieldComponent: e.Component, FieldSourceIdentity: e.SourceIdentity,
			FieldDownstreamRemoteAddress: e.SourceAddress, FieldAuthority: e.Authority, FieldMethod: e.Method,
			FieldPath: e.Path, FieldProtocol: e.Protocol, FieldResponseCode: e.Status, FieldDecision: e.Decision,
			FieldUpstreamHost: e.UpstreamHost, FieldUpstreamCluster: e.UpstreamCluster, FieldBytesSent: e.BytesSent,
			FieldDuration: e.Duration.Milliseconds(), FieldRequestID: e.RequestID, FieldUserAgent: e.UserAgent,
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoggerParallel(b *testing.B) {
	l := New(io.Discard, FormatJSON)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := istioExample()
		for pb.Next() {
			l.Log(e)
		}
	})
}

// BenchmarkLoggerBufferedParallel is BenchmarkLoggerParallel with writes batched off the request path.
func BenchmarkLoggerBufferedParallel(b *testing.B) {
	l := NewWith(io.Discard, FormatJSON, Options{Buffer: 1 << 20})
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := istioExample()
		for pb.Next() {
			l.Log(e)
		}
	})
}

// BenchmarkLoggerDevNull writes lines from 16 goroutines per core to /dev/null, so each write is a real
// system call: one per line unbuffered, one per batch buffered.
func BenchmarkLoggerDevNull(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"unbuffered", Options{}},
		{"buffered", Options{Buffer: 1 << 20}},
		{"buffered, 100ms interval", Options{Buffer: 1 << 20, FlushInterval: 100 * time.Millisecond}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			l := NewWith(f, FormatJSON, tc.opts)
			defer l.Close()
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				e := istioExample()
				for pb.Next() {
					l.Log(e)
				}
			})
		})
	}
}
