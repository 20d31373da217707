package controller

import "sync"

// Client rates and write parallelism. client-go's default of 5 requests a second (what a kubeconfig
// without qps gets) made the first rollout of 1,000 ExternalServices and 1,000 AccessPolicies take
// about a quarter of an hour per cluster (docs/benchmarks.md, "Controller at scale").
const (
	clientQPS   = 100
	clientBurst = 200
	// writeWorkers bounds the writes in flight to one cluster (and the status writes to the
	// management cluster): enough to hide a round trip, few enough not to crowd an API server.
	writeWorkers = 8
)

// forEach calls fn(i) for i in [0, n) on at most workers goroutines and waits for all of them.
func forEach(n, workers int, fn func(i int)) {
	if n == 0 {
		return
	}
	workers = min(workers, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
