package sidecar

import (
	"sync"
	"time"
)

// Ejection of gateways that fail. A gateway that refuses or times out connections (or whose connection
// dies under a request) ejectAfter times in a row is ejected: calls go to the decision's other gateways
// first, and it is tried again when its back-off ends. The back-off starts at ejectBase and doubles with
// each failed retry, up to ejectMax; one answer from the gateway, whatever its status, ends it. This is
// the sidecar choosing among gateways it was given, not outlier detection of the gateway's own upstream
// (see docs/sidecar.md).
const (
	ejectAfter = 2
	ejectBase  = time.Second
	ejectMax   = 30 * time.Second
)

// health is what a sidecar knows of one gateway listener.
type health struct {
	mu      sync.Mutex
	fails   int           // consecutive failures
	until   time.Time     // ejected until then
	backoff time.Duration // the current ejection's length; 0 when not ejected
}

// ejected reports whether the gateway is ejected at now.
func (h *health) ejected(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return now.Before(h.until)
}

// succeeded records an answer; recovered is true when it ends an ejection.
func (h *health) succeeded() (recovered bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	recovered = h.backoff > 0
	h.fails, h.until, h.backoff = 0, time.Time{}, 0
	return recovered
}

// failed records a failure at now. ejectedFor is the back-off when this failure ejects the gateway;
// first is true when the gateway was in service before (not a failed retry of an ejected one).
func (h *health) failed(now time.Time) (ejectedFor time.Duration, first bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fails++
	if h.fails < ejectAfter || now.Before(h.until) {
		return 0, false // not yet, or already ejected (calls that were in flight when it was)
	}
	first = h.backoff == 0
	switch {
	case first:
		h.backoff = ejectBase
	case h.backoff < ejectMax:
		h.backoff = min(2*h.backoff, ejectMax)
	}
	h.until = now.Add(h.backoff)
	return h.backoff, first
}
