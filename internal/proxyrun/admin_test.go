package proxyrun

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPprofOnlyWhenAskedFor(t *testing.T) {
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "admin "+r.URL.Path) })
	for _, tc := range []struct {
		name  string
		pprof bool
		want  string
	}{
		{"without pprof the admin handler answers /debug/pprof/ itself", false, "admin /debug/pprof/"},
		{"with pprof the profiler's index is served", true, "goroutine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(WithPprof(admin, tc.pprof))
			defer srv.Close()
			for path, want := range map[string]string{"/debug/pprof/": tc.want, "/stats/prometheus": "admin /stats/prometheus"} {
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(b), want) {
					t.Errorf("%s: %.100q, want it to contain %q", path, b, want)
				}
			}
		})
	}
}
