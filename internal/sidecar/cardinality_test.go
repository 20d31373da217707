package sidecar_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// series counts the samples a /stats/prometheus page exposes.
func series(t *testing.T, url string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, l := range strings.Split(meshtest.Fetch(t, url), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out[l[:strings.LastIndexByte(l, ' ')]] = true // the name and labels, without the value
		}
	}
	return out
}

// grownSeries says which series are in after and not in before.
func grownSeries(before, after map[string]bool) []string {
	var grown []string
	for s := range after {
		if !before[s] {
			grown = append(grown, s)
		}
	}
	slices.Sort(grown)
	return grown
}

// Metrics labels come from config and verified identities only: a caller that sends ten thousand
// different Host headers (unknown hosts, hosts matching a wildcard service, straight to the gateway or
// through the sidecar) adds no series to either proxy, so it cannot exhaust Prometheus' memory.
func TestTenThousandHostHeadersAddNoSeries(t *testing.T) {
	m := meshtest.NewMesh(t)
	gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, meshtest.TunnelResources), nil, func(p *gateway.Params) {
		p.PortOverrides[meshtest.TunnelTargetPort] = 0
	})
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage",
		tunnelGatewayAddrs(gw.GW), meshtest.TunnelResources))
	viaSidecar := viaProxy(sc.addr)
	direct := m.Client(meshtest.Productpage, gw.Addr)
	gwAdmin := httptest.NewServer(gw.GW.AdminHandler())
	defer gwAdmin.Close()
	scAdmin := httptest.NewServer(sc.sc.AdminHandler())
	defer scAdmin.Close()

	// Each kind of call, by the i-th distinct host.
	kinds := []struct {
		name string
		do   func(i int) (*http.Response, error)
	}{
		{"an unknown host through the sidecar", func(i int) (*http.Response, error) {
			return viaSidecar.Get(fmt.Sprintf("http://h%d.example.org/p%d", i, i))
		}},
		{"a wildcard service's host through the sidecar and the gateway", func(i int) (*http.Response, error) {
			return viaSidecar.Get(fmt.Sprintf("http://h%d.example.com:443/p%d", i, i))
		}},
		{"an unknown host straight to the gateway", func(i int) (*http.Response, error) {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://www.google.com/p%d", i), nil)
			req.Host = fmt.Sprintf("h%d.example.net", i)
			return direct.Do(req)
		}},
	}
	call := func(i int) error {
		k := kinds[i%len(kinds)]
		resp, err := k.do(i)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			return fmt.Errorf("%s: got %d, want a refusal", k.name, resp.StatusCode)
		}
		return nil
	}
	for i := range kinds { // every kind once, so its series exist before counting
		if err := call(i); err != nil {
			t.Fatal(err)
		}
	}
	gwBefore, scBefore := series(t, gwAdmin.URL+"/stats/prometheus"), series(t, scAdmin.URL+"/stats/prometheus")

	const hosts, workers = 10000, 8
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := call(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := len(kinds); i < hosts+len(kinds); i++ {
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			t.Fatal(err)
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}

	// Under a loaded machine a request may end in an outcome the warm-up did not see (a timeout's
	// response flag, a second connection to the gateway): such series come from a fixed set, at most a
	// few. A series per host would be thousands, and its labels would name the host.
	const bounded = 4
	for _, p := range []struct {
		name   string
		url    string
		before map[string]bool
	}{{"gateway", gwAdmin.URL, gwBefore}, {"sidecar", scAdmin.URL, scBefore}} {
		grown := grownSeries(p.before, series(t, p.url+"/stats/prometheus"))
		if len(grown) > 0 {
			t.Logf("the %s has %d new series over %d distinct hosts: %v", p.name, len(grown), hosts, grown)
		}
		if len(grown) > bounded {
			t.Errorf("the %s's series grew by %d over %d distinct hosts: %v", p.name, len(grown), hosts, grown)
		}
	}
	if out := meshtest.Fetch(t, gwAdmin.URL+"/stats/prometheus") + meshtest.Fetch(t, scAdmin.URL+"/stats/prometheus"); strings.Contains(out, "h1.example") {
		t.Error("a host name became a label value")
	}
}
