package h2srv_test

import (
	"io"
	"net/http"
	"sync"
	"testing"
)

// BenchmarkEngines compares this engine with x/net's server on one connection: a 1 KiB answer,
// one request at a time and 16 at once (client and server in this process).
//
//	go test ./internal/h2srv -run '^$' -bench Engines -benchmem
func BenchmarkEngines(b *testing.B) {
	body := make([]byte, 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) })
	for _, e := range []struct {
		name string
		xnet bool
	}{{"egret", false}, {"xnet", true}} {
		for _, par := range []int{1, 16} {
			b.Run(e.name+"/"+map[int]string{1: "sequential", 16: "16-streams"}[par], func(b *testing.B) {
				s := startEngine(b, e.xnet, h, nil)
				c := s.client(b)
				get := func() {
					resp, err := c.Get("https://www.google.com/")
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				get()
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				per := b.N / par
				for range par {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range per {
							get()
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}
