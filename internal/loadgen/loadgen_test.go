package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// generous bounds a run that must stop by itself; it is a hang detector, not a timing assertion.
const generous = 30 * time.Second

// get returns a Do function that GETs url with a keep-alive client and fails on a 4xx or 5xx status.
func get(t *testing.T, url string) func(context.Context) error {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode >= 400 {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}
}

// run calls Run and fails the test if it does not return within generous.
func run(t *testing.T, ctx context.Context, p Params) (Result, error) {
	t.Helper()
	type out struct {
		r   Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		r, err := Run(ctx, p)
		done <- out{r, err}
	}()
	select {
	case o := <-done:
		return o.r, o.err
	case <-time.After(generous):
		t.Fatalf("Run did not stop by itself within %s", generous)
		return Result{}, nil
	}
}

func TestRunCountsEveryRequest(t *testing.T) {
	for _, c := range []int{1, 16, 64} {
		t.Run(fmt.Sprintf("concurrency %d", c), func(t *testing.T) {
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				io.WriteString(w, "ok")
			}))
			defer srv.Close()

			res, err := run(t, context.Background(), Params{Concurrency: c, Requests: 500, Duration: generous, Do: get(t, srv.URL)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 500 || res.Errors != 0 || res.Cancelled != 0 || hits.Load() != 500 {
				t.Fatalf("requests %d, errors %d, cancelled %d, server saw %d; want 500, 0, 0, 500", res.Requests, res.Errors, res.Cancelled, hits.Load())
			}
			if res.Concurrency != c || res.RPS <= 0 || res.Elapsed <= 0 {
				t.Errorf("concurrency %d, rps %v, elapsed %v", res.Concurrency, res.RPS, res.Elapsed)
			}
			if !(0 < res.P50 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) {
				t.Errorf("percentiles out of order: p50 %v p90 %v p99 %v max %v", res.P50, res.P90, res.P99, res.Max)
			}
		})
	}
}

// TestRunKeepsExactlyConcurrencyRequestsInFlight holds the first requests at the server until
// Concurrency of them are in flight at once, and checks that never more are.
func TestRunKeepsExactlyConcurrencyRequestsInFlight(t *testing.T) {
	for _, c := range []int{1, 4, 16, 64} {
		t.Run(fmt.Sprintf("concurrency %d", c), func(t *testing.T) {
			var inFlight, most atomic.Int64
			full := make(chan struct{})
			var fullOnce sync.Once
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				if n == int64(c) {
					fullOnce.Do(func() { close(full) })
				}
				// Wait for the generator to reach full concurrency; with fewer callers this times out
				// and the test fails on the maximum below.
				select {
				case <-full:
				case <-time.After(5 * time.Second):
				}
				io.WriteString(w, "ok")
			}))
			defer srv.Close()

			res, err := run(t, context.Background(), Params{Concurrency: c, Requests: 4 * c, Duration: generous, Do: get(t, srv.URL)})
			if err != nil {
				t.Fatal(err)
			}
			if got := most.Load(); got != int64(c) {
				t.Errorf("server saw at most %d requests at once, want %d", got, c)
			}
			if res.Requests != 4*c || res.Errors != 0 {
				t.Errorf("requests %d errors %d, want %d and 0", res.Requests, res.Errors, 4*c)
			}
		})
	}
}

func TestRunCountsErrors(t *testing.T) {
	t.Run("server fails every other request", func(t *testing.T) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%2 == 0 {
				http.Error(w, "no", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		}))
		defer srv.Close()
		res, err := run(t, context.Background(), Params{Concurrency: 8, Requests: 400, Duration: generous, Do: get(t, srv.URL)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 400 || res.Errors != 200 {
			t.Fatalf("requests %d errors %d, want 400 and 200", res.Requests, res.Errors)
		}
		if res.FirstError == nil || !strings.Contains(res.FirstError.Error(), "503") {
			t.Errorf("first error %v, want the 503", res.FirstError)
		}
	})
	t.Run("server is closed", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		res, err := run(t, context.Background(), Params{Concurrency: 4, Requests: 50, Duration: generous, Do: get(t, url)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 50 || res.Errors != 50 || res.RPS != 0 || res.P99 != 0 {
			t.Fatalf("requests %d errors %d rps %v p99 %v, want 50, 50, 0, 0", res.Requests, res.Errors, res.RPS, res.P99)
		}
	})
}

func TestRunStopsAtDuration(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	res, err := run(t, context.Background(), Params{Concurrency: 4, Requests: 1 << 40, Duration: 200 * time.Millisecond, Do: get(t, srv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Requests >= 1<<40 || res.Errors != 0 {
		t.Fatalf("requests %d errors %d, want some, fewer than the bound, and no errors", res.Requests, res.Errors)
	}
}

// TestRunCancelsRequestsAtTheDeadline uses a server that never answers: the run must still end, and
// the cut-off requests count as cancelled, not as errors.
func TestRunCancelsRequestsAtTheDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	res, err := run(t, context.Background(), Params{Concurrency: 3, Requests: 100, Duration: 100 * time.Millisecond, Do: get(t, srv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Errors != 0 || res.Cancelled != 3 {
		t.Fatalf("requests %d errors %d cancelled %d, want 0, 0, 3", res.Requests, res.Errors, res.Cancelled)
	}
}

func TestRunReturnsWhenTheCallerCancels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	do := func(ctx context.Context) error {
		if calls.Add(1) == 10 {
			cancel()
		}
		return nil
	}
	res, err := run(t, ctx, Params{Concurrency: 2, Requests: 1000, Duration: generous, Do: do})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if res.Requests < 10 || res.Requests >= 1000 {
		t.Errorf("partial result has %d requests, want at least 10 and fewer than 1000", res.Requests)
	}
}

func TestRunRejectsUnboundedOrEmptyParams(t *testing.T) {
	do := func(context.Context) error { return nil }
	tests := []struct {
		name string
		p    Params
		want string
	}{
		{"zero concurrency", Params{Requests: 1, Duration: time.Second, Do: do}, "concurrency must be at least 1"},
		{"no request bound", Params{Concurrency: 1, Duration: time.Second, Do: do}, "requests must be at least 1"},
		{"no duration bound", Params{Concurrency: 1, Requests: 1, Do: do}, "duration must be positive"},
		{"no request function", Params{Concurrency: 1, Requests: 1, Duration: time.Second}, "Params.Do is nil"},
		{"negative pid", Params{Concurrency: 1, Requests: 1, Duration: time.Second, Do: do, WatchPID: -1}, "watch pid must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRunWatchesAProcess watches the test process itself, which serves and sends every request, so its
// CPU time must grow.
func TestRunWatchesAProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process sampling reads Linux's /proc")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	res, err := run(t, context.Background(), Params{Concurrency: 8, Requests: 5000, Duration: generous, Do: get(t, srv.URL), WatchPID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Watched || res.WatchPID != os.Getpid() {
		t.Fatalf("watched %v pid %d", res.Watched, res.WatchPID)
	}
	if res.CPU <= 0 || res.CPUPer1000 != res.CPU*1000/time.Duration(res.Requests) {
		t.Errorf("cpu %v, cpu/1k %v for %d requests", res.CPU, res.CPUPer1000, res.Requests)
	}
	if res.RSSBefore == 0 || res.RSSAfter == 0 {
		t.Errorf("rss before %d after %d, want both positive", res.RSSBefore, res.RSSAfter)
	}
}

func TestRunRefusesAProcessThatDoesNotExist(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process sampling reads Linux's /proc")
	}
	_, err := Run(context.Background(), Params{Concurrency: 1, Requests: 1, Duration: time.Second, Do: func(context.Context) error { return nil }, WatchPID: exitedPID(t)})
	if err == nil || !strings.Contains(err.Error(), "no process") {
		t.Fatalf("error %v, want one saying there is no such process", err)
	}
}

// exitedPID starts and reaps a short-lived process and returns its now unused process id.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot start /bin/true: %v", err)
	}
	return cmd.Process.Pid
}

// BenchmarkRun measures the generator's own overhead per request, with a request that does nothing.
func BenchmarkRun(b *testing.B) {
	for _, c := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("concurrency %d", c), func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(context.Background(), Params{Concurrency: c, Requests: 10000, Duration: time.Minute, Do: func(context.Context) error { return nil }}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/request")
		})
	}
}
