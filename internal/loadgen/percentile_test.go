package loadgen

import (
	"slices"
	"testing"
	"time"
)

func TestPercentileByNearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	oneToHundred := make([]int, 100)
	for i := range oneToHundred {
		oneToHundred[i] = i + 1
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"no samples", nil, 50, 0},
		{"one sample is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"median of five", ms(15, 20, 35, 40, 50), 50, 35 * time.Millisecond},
		{"30th of five rounds the rank up", ms(15, 20, 35, 40, 50), 30, 20 * time.Millisecond},
		{"40th of five lands exactly on a sample", ms(15, 20, 35, 40, 50), 40, 20 * time.Millisecond},
		{"100th is the maximum", ms(15, 20, 35, 40, 50), 100, 50 * time.Millisecond},
		{"p0 is the minimum", ms(15, 20, 35, 40, 50), 0, 15 * time.Millisecond},
		{"p50 of 1..100", ms(oneToHundred...), 50, 50 * time.Millisecond},
		{"p90 of 1..100", ms(oneToHundred...), 90, 90 * time.Millisecond},
		{"p99 of 1..100", ms(oneToHundred...), 99, 99 * time.Millisecond},
		{"p99.9 of 1..100 is the maximum", ms(oneToHundred...), 99.9, 100 * time.Millisecond},
		{"p99 of ten with one outlier is the outlier", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 900), 99, 900 * time.Millisecond},
		{"p90 of ten with one outlier is not", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 900), 90, time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.IsSorted(tc.samples) {
				t.Fatal("test samples must be sorted")
			}
			if got := percentile(tc.samples, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.samples, tc.p, got, tc.want)
			}
		})
	}
}
