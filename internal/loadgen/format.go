package loadgen

import (
	"fmt"
	"strings"
	"time"
)

// String prints the result on one line, e.g.
// "c=16 requests=10000 errors=0 elapsed=1.52s rps=6578.9 p50=2.1ms p90=3.4ms p99=6.8ms max=14.2ms".
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "c=%d requests=%d errors=%d", r.Concurrency, r.Requests, r.Errors)
	if r.Cancelled > 0 {
		fmt.Fprintf(&b, " cancelled=%d", r.Cancelled)
	}
	fmt.Fprintf(&b, " elapsed=%s rps=%.1f p50=%s p90=%s p99=%s max=%s",
		round(r.Elapsed), r.RPS, round(r.P50), round(r.P90), round(r.P99), round(r.Max))
	if r.Watched {
		fmt.Fprintf(&b, " pid=%d cpu=%s cpu/1k=%s rss=%s->%s",
			r.WatchPID, round(r.CPU), round(r.CPUPer1000), mib(r.RSSBefore), mib(r.RSSAfter))
	}
	return b.String()
}

// MarkdownHeader is the header of the table whose rows MarkdownRow prints.
func MarkdownHeader() string {
	return "| path | concurrency | requests | errors | req/s | p50 | p90 | p99 | max | CPU / 1,000 req | RSS before | RSS after |\n" +
		"|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
}

// MarkdownRow prints the result as one row of a docs table; label names the path measured, e.g.
// "client → gateway → upstream". Columns for an unwatched process read "–".
func (r Result) MarkdownRow(label string) string {
	cpu, before, after := "–", "–", "–"
	if r.Watched {
		cpu, before, after = round(r.CPUPer1000).String(), mib(r.RSSBefore), mib(r.RSSAfter)
	}
	return fmt.Sprintf("| %s | %d | %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %s |",
		strings.ReplaceAll(label, "|", `\|`), r.Concurrency, r.Requests, r.Errors, r.RPS,
		round(r.P50), round(r.P90), round(r.P99), round(r.Max), cpu, before, after)
}

// round keeps three significant figures or so, which is all a latency figure can honestly claim.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	default:
		return d
	}
}

func mib(n uint64) string {
	return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
}

// TSVHeader is the header line of the tab-separated rows TSVRow prints.
func TSVHeader() string {
	return "label\tconcurrency\trequests\terrors\tcancelled\telapsed_s\trps\tp50_us\tp90_us\tp99_us\tmax_us\tcpu_ms\tcpu_per_1k_ms\trss_before_kib\trss_after_kib"
}

// TSVRow prints the result as one tab-separated line of plain numbers (no units, no rounding beyond
// the column's), for scripts that combine several runs. Columns for an unwatched process are empty.
func (r Result) TSVRow(label string) string {
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }
	cpu, cpu1k, before, after := "", "", "", ""
	if r.Watched {
		cpu, cpu1k = ms(r.CPU), ms(r.CPUPer1000)
		before, after = fmt.Sprint(r.RSSBefore>>10), fmt.Sprint(r.RSSAfter>>10)
	}
	label = strings.NewReplacer("\t", " ", "\n", " ").Replace(label)
	return strings.Join([]string{label, fmt.Sprint(r.Concurrency), fmt.Sprint(r.Requests), fmt.Sprint(r.Errors),
		fmt.Sprint(r.Cancelled), fmt.Sprintf("%.3f", r.Elapsed.Seconds()), fmt.Sprintf("%.1f", r.RPS),
		us(r.P50), us(r.P90), us(r.P99), us(r.Max), cpu, cpu1k, before, after}, "\t")
}
