package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// istioExample is the gateway request from Istio's real log line in the
// reference notes (gloo-mesh-egress.md §1.7).
func istioExample() *Entry {
	return &Entry{
		StartTime:              time.Date(2023, 5, 11, 20, 10, 30, 274_000_000, time.UTC),
		Component:              ComponentGateway,
		SourceIdentity:         "spiffe://cluster.local/ns/bookinfo-frontends/sa/bookinfo-productpage",
		SourceAddress:          "10.102.1.127:48388",
		DownstreamLocalAddress: "10.102.2.119:8443",
		Authority:              "httpbin.org",
		SNI:                    "httpbin.org",
		Method:                 "GET",
		Path:                   "/get?api_key=s3cr3t",
		Protocol:               "HTTP/1.1",
		Status:                 200,
		ResponseCodeDetails:    "via_upstream",
		Decision:               DecisionAllow,
		Policy:                 "bookinfo/allow-productpage",
		Reason:                 "matched rule 0",
		UpstreamHost:           "34.193.132.77:443",
		UpstreamCluster:        "outbound|443||httpbin.org",
		UpstreamLocalAddress:   "10.102.2.119:39178",
		BytesReceived:          0,
		BytesSent:              3428,
		Duration:               793 * time.Millisecond,
		UpstreamServiceTime:    773 * time.Millisecond,
		RequestID:              "e6fb42b7-2519-4a59-beb8-0841380d445e",
		UserAgent:              "python-requests/2.28.1",
		XForwardedFor:          "10.102.1.127",
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct {
		name  string
		entry *Entry
		want  string
	}{
		{
			name:  "Istio's real gateway line, byte for byte (query string dropped)",
			entry: istioExample(),
			want:  `[2023-05-11T20:10:30.274Z] "GET /get HTTP/1.1" 200 - via_upstream - "-" 0 3428 793 773 "10.102.1.127" "python-requests/2.28.1" "e6fb42b7-2519-4a59-beb8-0841380d445e" "httpbin.org" "34.193.132.77:443" outbound|443||httpbin.org 10.102.2.119:39178 10.102.2.119:8443 10.102.1.127:48388 httpbin.org -` + "\n",
		},
		{
			name: "denied request names the policy in the details",
			entry: &Entry{
				StartTime: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("CET", 3600)),
				Method:    "POST", Path: "/post", Protocol: "HTTP/2", Status: 403,
				ResponseFlags: []Flag{FlagPolicyDenied}, ResponseCodeDetails: RBACDetails("bookinfo/reviews-deny"),
				BytesSent: 19, Duration: 2 * time.Millisecond, Authority: "httpbin.org",
				SourceAddress: "127.0.0.1:5000", DownstreamLocalAddress: "127.0.0.1:8443",
			},
			want: `[2026-01-02T02:04:05.006Z] "POST /post HTTP/2" 403 RBAC rbac_access_denied_matched_policy[bookinfo/reviews-deny] - "-" 0 19 2 - "-" "-" "-" "httpbin.org" "-" - - 127.0.0.1:8443 127.0.0.1:5000 - -` + "\n",
		},
		{
			name: "TLS connection with an origination failure",
			entry: &Entry{
				StartTime:                      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
				ResponseFlags:                  []Flag{FlagUpstreamConnFailure, FlagNoHealthyUpstream},
				UpstreamTransportFailureReason: "certificate signed by unknown authority",
				BytesReceived:                  517, Duration: 1500 * time.Millisecond, Authority: "api.example.com:443",
				UpstreamHost: "127.0.0.1:9443", UpstreamCluster: "outbound|443||api.example.com", SNI: "api.example.com",
			},
			want: `[2026-01-02T03:04:05.000Z] "- - -" 0 UF,UH - - "certificate signed by unknown authority" 517 0 1500 - "-" "-" "-" "api.example.com:443" "127.0.0.1:9443" outbound|443||api.example.com - - - api.example.com -` + "\n",
		},
		{
			name: "hostile values stay on one line and in their columns",
			entry: &Entry{
				Method: "GET", Path: "/a b\"c\nd#frag", Protocol: "HTTP/1.1", Status: 200,
				UserAgent: "evil\"\r\n[2020-01-01] fake", ResponseCodeDetails: "two words", SNI: "x\ny",
			},
			want: `[-] "GET /a b\"c\x0ad HTTP/1.1" 200 - two_words - "-" 0 0 0 - "-" "evil\"\x0d\x0a[2020-01-01] fake" "-" "-" "-" - - - - x_y -` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendText(nil, tt.entry)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name  string
		entry *Entry
		want  string
	}{
		{
			name:  "allowed gateway request, every key in order",
			entry: istioExample(),
			want: `{"start_time":"2023-05-11T20:10:30.274Z","component":"gateway","source_identity":"spiffe://cluster.local/ns/bookinfo-frontends/sa/bookinfo-productpage",` +
				`"downstream_remote_address":"10.102.1.127:48388","downstream_local_address":"10.102.2.119:8443","authority":"httpbin.org",` +
				`"requested_server_name":"httpbin.org","method":"GET","path":"/get","protocol":"HTTP/1.1","response_code":200,"response_flags":null,` +
				`"response_code_details":"via_upstream","decision":"allow","policy":"bookinfo/allow-productpage","reason":"matched rule 0",` +
				`"upstream_host":"34.193.132.77:443","upstream_cluster":"outbound|443||httpbin.org","upstream_local_address":"10.102.2.119:39178",` +
				`"upstream_transport_failure_reason":null,"connection_termination_details":null,"bytes_received":0,"bytes_sent":3428,"duration":793,` +
				`"upstream_service_time":773,"request_id":"e6fb42b7-2519-4a59-beb8-0841380d445e","user_agent":"python-requests/2.28.1",` +
				`"x_forwarded_for":"10.102.1.127","route_name":null,"denied_by":null}` + "\n",
		},
		{
			name: "sidecar REGISTRY_ONLY block with escaping",
			entry: &Entry{
				Component: ComponentSidecar, SourceIdentity: "spiffe://mesh.local/ns/bookinfo/sa/reviews",
				Authority: "www.google.com", Method: "GET", Path: "/\x01\"\\\t\u2028\xff", Protocol: "HTTP/1.1", Status: 502,
				ResponseFlags: []Flag{FlagNoRoute}, Decision: DecisionDeny, Reason: "host not in registry (REGISTRY_ONLY)",
				UpstreamCluster: "BlackHoleCluster",
			},
			want: `{"start_time":null,"component":"sidecar","source_identity":"spiffe://mesh.local/ns/bookinfo/sa/reviews",` +
				`"downstream_remote_address":null,"downstream_local_address":null,"authority":"www.google.com","requested_server_name":null,` +
				`"method":"GET","path":"/\u0001\"\\\t\u2028\ufffd","protocol":"HTTP/1.1","response_code":502,"response_flags":"NR",` +
				`"response_code_details":null,"decision":"deny","policy":null,"reason":"host not in registry (REGISTRY_ONLY)",` +
				`"upstream_host":null,"upstream_cluster":"BlackHoleCluster","upstream_local_address":null,"upstream_transport_failure_reason":null,` +
				`"connection_termination_details":null,"bytes_received":0,"bytes_sent":0,"duration":0,"upstream_service_time":null,` +
				`"request_id":null,"user_agent":null,"x_forwarded_for":null,"route_name":null,"denied_by":"sidecar"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendJSON(nil, tt.entry)
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func TestPathNeverCarriesQuery(t *testing.T) {
	for _, p := range []string{"/x?token=SECRET", "/x#SECRET", "/x?a=1#SECRET", "?SECRET"} {
		e := &Entry{Path: p}
		for name, out := range map[string][]byte{"JSON": AppendJSON(nil, e), "TEXT": AppendText(nil, e)} {
			if bytes.Contains(out, []byte("SECRET")) {
				t.Errorf("%s leaked the query of %q: %s", name, p, out)
			}
		}
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"", FormatJSON, false}, {"JSON", FormatJSON, false}, {"text", FormatText, false}, {"TEXT", FormatText, false}, {"yaml", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseFormat(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

// slowWriter is deliberately unsynchronised and writes a byte at a time,
// yielding in between: without the Logger's lock, concurrent lines would
// interleave (and -race would flag the buffer).
type slowWriter struct{ buf bytes.Buffer }

func (w *slowWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		w.buf.WriteByte(b)
		runtime.Gosched()
	}
	return len(p), nil
}

func TestLoggerLinesNeverInterleave(t *testing.T) {
	for _, format := range []Format{FormatJSON, FormatText} {
		t.Run(format.String(), func(t *testing.T) {
			w := &slowWriter{}
			l := New(w, format)
			const goroutines, perG = 8, 50
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perG {
						e := istioExample()
						e.RequestID = strings.Repeat(string(rune('a'+g)), 36)
						e.BytesSent = int64(i)
						if err := l.Log(e); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			want := map[string]bool{}
			for g := range goroutines {
				for i := range perG {
					e := istioExample()
					e.RequestID = strings.Repeat(string(rune('a'+g)), 36)
					e.BytesSent = int64(i)
					want[string(AppendText(nil, e))] = true
					want[string(AppendJSON(nil, e))] = true
				}
			}
			sc := bufio.NewScanner(&w.buf)
			lines := 0
			for sc.Scan() {
				lines++
				if !want[sc.Text()+"\n"] {
					t.Fatalf("line %d is not one whole entry: %q", lines, sc.Text())
				}
			}
			if lines != goroutines*perG {
				t.Errorf("got %d lines, want %d", lines, goroutines*perG)
			}
		})
	}
}
