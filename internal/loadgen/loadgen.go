// Package loadgen drives a fixed number of concurrent callers against one request function and reports
// throughput, latency percentiles and the CPU and memory a watched process spent serving them.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Params describes one load run. Requests and Duration are both required so that a run always ends by
// itself: it stops at whichever bound is reached first.
type Params struct {
	// Concurrency is the number of callers; each runs one request at a time, back to back.
	Concurrency int
	// Requests is the total number of requests to start across all callers.
	Requests int
	// Duration bounds the run's wall time; requests still in flight at the deadline are cancelled
	// and counted in Result.Cancelled, not as errors.
	Duration time.Duration
	// Do makes one request and returns nil on success. It must honour ctx so the deadline can stop it.
	Do func(ctx context.Context) error
	// WatchPID, if non-zero, names a process (e.g. the gateway) whose CPU time and resident memory are
	// sampled before and after the run.
	WatchPID int
	// Now reads the clock for latency and elapsed time; nil means time.Now. Injected so tests and
	// callers with their own clock can control it.
	Now func() time.Time
}

// Result is what one run measured. Latency percentiles are exact: every successful request's latency
// is recorded and the percentiles are read from the sorted samples (nearest-rank method).
type Result struct {
	Concurrency int
	Requests    int // completed requests, successful or not
	Errors      int // completed requests whose Do returned an error
	Cancelled   int // requests cut off by the Duration deadline or the caller's context; not in Requests
	Elapsed     time.Duration
	RPS         float64 // successful requests per second of Elapsed

	// Latency of successful requests.
	P50, P90, P99, Max time.Duration

	// FirstError is the first error Do returned, kept to explain a failing run.
	FirstError error

	// Set only when Params.WatchPID was given.
	Watched             bool
	WatchPID            int
	CPU                 time.Duration // user+system CPU time the watched process spent during the run
	CPUPer1000          time.Duration // CPU scaled to 1,000 completed requests
	RSSBefore, RSSAfter uint64        // resident set size in bytes
}

func (p Params) validate() error {
	var errs []error
	if p.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency must be at least 1, got %d", p.Concurrency))
	}
	if p.Requests < 1 {
		errs = append(errs, fmt.Errorf("requests must be at least 1, got %d", p.Requests))
	}
	if p.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration must be positive, got %s", p.Duration))
	}
	if p.Do == nil {
		errs = append(errs, errors.New("no request function (Params.Do is nil)"))
	}
	if p.WatchPID < 0 {
		errs = append(errs, fmt.Errorf("watch pid must be positive, got %d", p.WatchPID))
	}
	return errors.Join(errs...)
}

// caller is one worker's private tally, merged after the run so the hot path takes no locks.
type caller struct {
	latencies []time.Duration
	errors    int
	cancelled int
	firstErr  error
}

// Run performs the load described by p. It returns an error for invalid parameters, for a watched
// process that cannot be sampled, and (with the partial Result) when ctx is cancelled before the run
// ends on its own.
func Run(ctx context.Context, p Params) (Result, error) {
	if err := p.validate(); err != nil {
		return Result{}, fmt.Errorf("loadgen: %w", err)
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	res := Result{Concurrency: p.Concurrency}

	var before sample
	if p.WatchPID != 0 {
		var err error
		if before, err = takeSample(p.WatchPID); err != nil {
			return Result{}, fmt.Errorf("loadgen: watched process: %w", err)
		}
	}

	runCtx, cancel := context.WithTimeout(ctx, p.Duration)
	defer cancel()

	start := now()
	callers := runCallers(runCtx, p, now)
	res.Elapsed = now().Sub(start)
	res.tally(callers)

	if p.WatchPID != 0 {
		after, err := takeSample(p.WatchPID)
		if err != nil {
			return res, fmt.Errorf("loadgen: watched process: %w", err)
		}
		res.Watched, res.WatchPID = true, p.WatchPID
		res.CPU = after.cpu - before.cpu
		if res.Requests > 0 {
			res.CPUPer1000 = res.CPU * 1000 / time.Duration(res.Requests)
		}
		res.RSSBefore, res.RSSAfter = before.rss, after.rss
	}

	// Only the caller's context is an error; our own deadline is a normal end.
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("loadgen: run interrupted: %w", err)
	}
	return res, nil
}

// runCallers runs p.Concurrency callers, each sending requests back to back until p.Requests are
// started or ctx ends, and returns each caller's tally.
func runCallers(ctx context.Context, p Params, now func() time.Time) []caller {
	var issued atomic.Int64
	callers := make([]caller, p.Concurrency)
	var wg sync.WaitGroup
	for i := range callers {
		c := &callers[i]
		wg.Go(func() {
			for ctx.Err() == nil && issued.Add(1) <= int64(p.Requests) {
				t0 := now()
				err := p.Do(ctx)
				lat := now().Sub(t0)
				switch {
				case err == nil:
					c.latencies = append(c.latencies, lat)
				case ctx.Err() != nil:
					// The deadline, not the target, ended this request.
					c.cancelled++
				default:
					c.errors++
					if c.firstErr == nil {
						c.firstErr = err
					}
				}
			}
		})
	}
	wg.Wait()
	return callers
}

// tally merges the callers' tallies into r: counts, the first error, latency percentiles and the rate.
func (r *Result) tally(callers []caller) {
	var all []time.Duration
	for _, c := range callers {
		all = append(all, c.latencies...)
		r.Errors += c.errors
		r.Cancelled += c.cancelled
		if r.FirstError == nil {
			r.FirstError = c.firstErr
		}
	}
	r.Requests = len(all) + r.Errors
	slices.Sort(all)
	r.P50, r.P90, r.P99 = percentile(all, 50), percentile(all, 90), percentile(all, 99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	if r.Elapsed > 0 {
		r.RPS = float64(len(all)) / r.Elapsed.Seconds()
	}
}

// sample is one reading of a watched process.
type sample struct {
	cpu time.Duration
	rss uint64
}

func takeSample(pid int) (sample, error) {
	cpu, err := ProcessCPU(pid)
	if err != nil {
		return sample{}, err
	}
	rss, err := ProcessRSS(pid)
	if err != nil {
		return sample{}, err
	}
	return sample{cpu: cpu, rss: rss}, nil
}
