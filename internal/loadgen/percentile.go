package loadgen

import (
	"math"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the nearest-rank method: the
// smallest sample such that at least p% of samples are less than or equal to it. Nearest-rank never
// invents a latency that was not observed, which keeps p99 honest on small runs. It returns 0 for no
// samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}
