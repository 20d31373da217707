package accesslog

import (
	"encoding/json"
	"io"
	"testing"
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
