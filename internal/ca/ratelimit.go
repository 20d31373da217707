package ca

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// RateLimit bounds the enrollment API per source address: a token bucket per IP (every enroll or
// renew call takes a token; an empty bucket is answered 429 with Retry-After), and refusals logged
// with throttling (the first refusal from a source in each LogEvery window, then one summary line
// with the number left out).
type RateLimit struct {
	Burst     int           // calls a source may make at once; default 100
	PerSecond float64       // refill rate; default 5
	LogEvery  time.Duration // default 30 s
	// MaxSources bounds the sources tracked at once; a full table forgets sources whose bucket has
	// refilled, and refuses new sources until one has (default 10000).
	MaxSources int
}

// Defaults: a host enrolling all its proxies at once (`egret up` on one machine) stays well inside the
// burst, while a client replaying or guessing tokens is held to a few tries a second.
const (
	DefaultEnrollBurst     = 100
	DefaultEnrollPerSecond = 5
	DefaultEnrollLogEvery  = 30 * time.Second
	defaultMaxSources      = 10000
)

func (l *RateLimit) defaults() {
	if l.Burst <= 0 {
		l.Burst = DefaultEnrollBurst
	}
	if l.PerSecond <= 0 {
		l.PerSecond = DefaultEnrollPerSecond
	}
	if l.LogEvery <= 0 {
		l.LogEvery = DefaultEnrollLogEvery
	}
	if l.MaxSources <= 0 {
		l.MaxSources = defaultMaxSources
	}
}

// limiter holds the buckets and the log throttle of every source.
type limiter struct {
	l     RateLimit
	clock Clock
	log   *slog.Logger

	mu        sync.Mutex
	sources   map[string]*sourceState
	lastFlush time.Time
}

type sourceState struct {
	tokens   float64
	refilled time.Time
	// log throttle: refusals since logged, and when the current window began
	suppressed int
	window     time.Time
}

func newLimiter(l RateLimit, clk Clock, log *slog.Logger) *limiter {
	l.defaults()
	return &limiter{l: l, clock: clk, log: log, sources: map[string]*sourceState{}}
}

// sourceOf is the IP of a remote address (the port changes with every connection).
func sourceOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// allow takes a token for src, or says how long until one is available.
func (lm *limiter) allow(src string) (bool, time.Duration) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	now := lm.clock.Now()
	s, ok := lm.sources[src]
	if !ok {
		if len(lm.sources) >= lm.l.MaxSources {
			lm.forgetRefilled(now)
		}
		if len(lm.sources) >= lm.l.MaxSources {
			return false, time.Second
		}
		s = &sourceState{tokens: float64(lm.l.Burst), refilled: now}
		lm.sources[src] = s
	}
	s.tokens = min(float64(lm.l.Burst), s.tokens+now.Sub(s.refilled).Seconds()*lm.l.PerSecond)
	s.refilled = now
	if s.tokens >= 1 {
		s.tokens--
		return true, 0
	}
	wait := time.Duration((1 - s.tokens) / lm.l.PerSecond * float64(time.Second))
	return false, max(wait, time.Second)
}

// forgetRefilled drops sources whose bucket is full again and that owe no log summary. Called with lm.mu held.
func (lm *limiter) forgetRefilled(now time.Time) {
	for src, s := range lm.sources {
		full := s.tokens+now.Sub(s.refilled).Seconds()*lm.l.PerSecond >= float64(lm.l.Burst)
		if full && s.suppressed == 0 {
			delete(lm.sources, src)
		}
	}
}

// refused logs a refusal from src through the throttle: logged when it is the first in its source's
// window; otherwise counted, and the count is logged as one line when the window ends.
func (lm *limiter) refused(src string, log *slog.Logger, msg string, args ...any) {
	lm.mu.Lock()
	now := lm.clock.Now()
	lm.flushLocked(now)
	s, ok := lm.sources[src]
	if !ok { // a source forgotten or never charged (the table was full)
		s = &sourceState{tokens: float64(lm.l.Burst), refilled: now}
		if len(lm.sources) < lm.l.MaxSources {
			lm.sources[src] = s
		}
	}
	first := s.window.IsZero() || now.Sub(s.window) >= lm.l.LogEvery
	if first {
		s.window = now
	} else {
		s.suppressed++
	}
	lm.mu.Unlock()
	if first {
		log.Warn(msg, args...)
	}
}

// flushLocked writes the summary of every source whose window has ended with refusals left out.
// Called with lm.mu held.
func (lm *limiter) flushLocked(now time.Time) {
	if now.Sub(lm.lastFlush) < time.Second {
		return // a sweep a second is enough, and keeps a flood from sweeping the table every call
	}
	lm.lastFlush = now
	for src, s := range lm.sources {
		if s.suppressed > 0 && now.Sub(s.window) >= lm.l.LogEvery {
			lm.log.Warn("enrollment refusals not logged one by one", "source", src, "refusals", s.suppressed, "window", lm.l.LogEvery.String())
			s.suppressed = 0
		}
	}
}

// flush writes the summaries whose window has ended; the enrollment handler calls it on every call,
// so a source that stopped still gets its summary line.
func (lm *limiter) flush() {
	lm.mu.Lock()
	lm.flushLocked(lm.clock.Now())
	lm.mu.Unlock()
}
