package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestResultFormats(t *testing.T) {
	r := Result{
		Concurrency: 16, Requests: 10000, Errors: 2, Elapsed: 1523456789 * time.Nanosecond, RPS: 6562.3,
		P50: 2123456 * time.Nanosecond, P90: 3456789 * time.Nanosecond, P99: 6789012 * time.Nanosecond, Max: 14234567 * time.Nanosecond,
	}
	if got, want := r.String(), "c=16 requests=10000 errors=2 elapsed=1.52s rps=6562.3 p50=2.12ms p90=3.46ms p99=6.79ms max=14.2ms"; got != want {
		t.Errorf("String()\n got %s\nwant %s", got, want)
	}
	if got, want := r.MarkdownRow("direct"), "| direct | 16 | 10000 | 2 | 6562 | 2.12ms | 3.46ms | 6.79ms | 14.2ms | – | – | – |"; got != want {
		t.Errorf("MarkdownRow()\n got %s\nwant %s", got, want)
	}

	r.Watched, r.WatchPID, r.CPU, r.CPUPer1000, r.RSSBefore, r.RSSAfter = true, 77, 840*time.Millisecond, 84*time.Millisecond, 12<<20, 14<<20+1<<19
	if got, want := r.String(), " pid=77 cpu=840ms cpu/1k=84ms rss=12.0MiB->14.5MiB"; !strings.HasSuffix(got, want) {
		t.Errorf("String() = %s, want suffix %s", got, want)
	}
	if got, want := r.MarkdownRow("a | b"), "| a \\| b | 16 | 10000 | 2 | 6562 | 2.12ms | 3.46ms | 6.79ms | 14.2ms | 84ms | 12.0MiB | 14.5MiB |"; got != want {
		t.Errorf("MarkdownRow()\n got %s\nwant %s", got, want)
	}
	header := strings.Split(MarkdownHeader(), "\n")
	if len(header) != 2 || strings.Count(header[0], "|") != strings.Count(r.MarkdownRow("x"), "|") || strings.Count(header[1], "|") != strings.Count(header[0], "|") {
		t.Errorf("header does not match the rows:\n%s\n%s", MarkdownHeader(), r.MarkdownRow("x"))
	}
}

func TestResultTSV(t *testing.T) {
	r := Result{
		Concurrency: 16, Requests: 10000, Errors: 2, Cancelled: 3, Elapsed: 1523456789 * time.Nanosecond, RPS: 6562.34,
		P50: 2123456 * time.Nanosecond, P90: 3456789 * time.Nanosecond, P99: 6789012 * time.Nanosecond, Max: 14234567 * time.Nanosecond,
	}
	header := strings.Split(TSVHeader(), "\t")
	tests := []struct {
		name, label, want string
		watched           bool
	}{
		{"unwatched", "direct", "direct\t16\t10000\t2\t3\t1.523\t6562.3\t2123.5\t3456.8\t6789.0\t14234.6\t\t\t\t", false},
		{"watched, with a tab in the label", "a\tb", "a b\t16\t10000\t2\t3\t1.523\t6562.3\t2123.5\t3456.8\t6789.0\t14234.6\t840.000\t84.000\t12288\t14848", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := r
			if tc.watched {
				r.Watched, r.CPU, r.CPUPer1000, r.RSSBefore, r.RSSAfter = true, 840*time.Millisecond, 84*time.Millisecond, 12<<20, 14<<20+1<<19
			}
			got := r.TSVRow(tc.label)
			if got != tc.want {
				t.Errorf("TSVRow()\n got %q\nwant %q", got, tc.want)
			}
			if n := len(strings.Split(got, "\t")); n != len(header) {
				t.Errorf("%d columns, header has %d", n, len(header))
			}
		})
	}
}
