package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/xds"
)

const (
	cpID   = "spiffe://cluster1/egret/controlplane"
	gw1ID  = "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"
	gw2ID  = "spiffe://cluster2/ns/gloo-mesh-gateways/sa/istio-egressgateway"
	ppID   = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"
	rvID   = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"
	policy = "04-access-policy.yaml"
)

var everyProxy = []string{gw1ID, gw2ID, ppID, rvID}

// startCP runs a control plane on dir with a fast poll, stopped at the end of the test.
func startCP(t *testing.T, dir string) *ControlPlane {
	t.Helper()
	return startCPDebounced(t, dir, 60*time.Millisecond)
}

func startCPDebounced(t *testing.T, dir string, debounce time.Duration) *ControlPlane {
	t.Helper()
	cp, stop := runCP(t, Params{ConfigDir: dir, DataDir: t.TempDir(), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Poll: 20 * time.Millisecond, Debounce: debounce})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return cp
}

// runCP starts a control plane with p and runs it; stop ends Run (once, whoever calls it first: the
// test or its cleanup) and returns Run's error.
func runCP(t *testing.T, p Params) (cp *ControlPlane, stop func() error) {
	t.Helper()
	cp, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return cp, stop
}

// proxy is an in-process stand-in for a gateway or sidecar: an xds client holding an SVID from the
// control plane's CA, recording every version it applies.
type proxy struct {
	mu       sync.Mutex
	versions []string
	kinds    []string
}

func (p *proxy) apply(m xds.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if (m.Kind == xds.KindGateway) != (m.Gateway != nil) || (m.Kind == xds.KindSidecar) != (m.Sidecar != nil) {
		return errors.New("the message's kind and body disagree")
	}
	p.versions = append(p.versions, m.Version)
	p.kinds = append(p.kinds, m.Kind)
	return nil
}

func (p *proxy) applied() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.versions...)
}

func connect(t *testing.T, cp *ControlPlane, id string) *proxy {
	return connectAs(t, cp, id, xds.KindSidecar)
}

// connectAs connects a proxy of kind (a gateway's identity connects as a gateway whatever kind says).
func connectAs(t *testing.T, cp *ControlPlane, id, kind string) *proxy {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(cp.CA().Root())
	m := &meshtest.Mesh{T: t, CA: cp.CA(), Pool: pool}
	cert := m.SVID(id, time.Hour)
	conf := &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // verified by SPIFFE ID below
		VerifyConnection:   func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, pool, cpID) },
	}
	p := &proxy{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if strings.Contains(id, "/sa/istio-egressgateway") {
			kind = xds.KindGateway
		}
		done <- xds.RunDeltaClient(ctx, xds.DeltaClientParams{Address: cp.Addr(), TLS: conf, Kind: kind, Apply: p.apply,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return p
}

// versions are the configs the control plane serves now, by identity.
func versions(t *testing.T, cp *ControlPlane) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range everyProxy {
		v, err := cp.VersionFor(id)
		if err != nil {
			t.Fatalf("VersionFor(%s): %v", id, err)
		}
		out[id] = v
	}
	return out
}

// synced waits until every proxy applied the version the control plane serves it and acknowledged it.
func synced(t *testing.T, cp *ControlPlane, proxies map[string]*proxy) {
	t.Helper()
	meshtest.WaitFor(t, func() bool {
		want := versions(t, cp)
		got := map[string]bool{}
		for _, p := range cp.Status().Proxies {
			applied := proxies[p.Identity].applied()
			if p.Connected && p.State() == "SYNCED" && len(applied) > 0 && applied[len(applied)-1] == want[p.Identity] {
				got[p.Identity] = true
			}
		}
		return len(got) == len(everyProxy)
	})
}

func TestTheInitialLoadServesEveryProxyItsSlice(t *testing.T) {
	cp := startCP(t, meshtest.CopyExample(t, nil))
	if st := cp.Status(); len(st.Rejected) != 0 {
		t.Fatalf("the example was rejected: %v", st.Rejected)
	}
	plan := cp.Plan()
	if len(plan.Gateways) != 2 || len(plan.Workloads) != 2 || len(plan.Services) != 1 || len(plan.Policies) != 1 {
		t.Fatalf("plan: %d gateways, %d workloads, %d services, %d policies", len(plan.Gateways), len(plan.Workloads), len(plan.Services), len(plan.Policies))
	}
	proxies := map[string]*proxy{}
	for _, id := range everyProxy {
		proxies[id] = connect(t, cp, id)
	}
	synced(t, cp, proxies)

	want := map[string]struct{ kind, name, cluster string }{
		gw1ID: {xds.KindGateway, "cluster1/gloo-mesh-gateways/istio-egressgateway", "cluster1"},
		gw2ID: {xds.KindGateway, "cluster2/gloo-mesh-gateways/istio-egressgateway", "cluster2"},
		ppID:  {xds.KindSidecar, "bookinfo/productpage", "cluster1"},
		rvID:  {xds.KindSidecar, "bookinfo/reviews", "cluster1"},
	}
	for _, p := range cp.Status().Proxies {
		w := want[p.Identity]
		if p.Kind != w.kind || p.Name != w.name || p.Cluster != w.cluster {
			t.Errorf("%s: kind %s, name %s, cluster %s; want %+v", p.Identity, p.Kind, p.Name, p.Cluster, w)
		}
	}
	for id, p := range proxies {
		if got := p.applied(); len(got) != 1 {
			t.Errorf("%s applied %v, want one version", id, got)
		}
	}
	resources := cp.Status().Resources
	if len(resources) == 0 {
		t.Fatal("no resource statuses")
	}
	for _, r := range resources {
		if r.State == "" || len(r.Problems) != 0 {
			t.Errorf("resource %s: %s %v", r.Object, r.State, r.Problems)
		}
	}
}

func TestAFileEditReachesTheAffectedProxiesOnly(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	cp := startCP(t, dir)
	proxies := map[string]*proxy{}
	for _, id := range everyProxy {
		proxies[id] = connect(t, cp, id)
	}
	synced(t, cp, proxies)
	before := versions(t, cp)

	// Allow reviews too: the policy changes for the gateways that enforce it.
	meshtest.Edit(t, dir, policy, "      - serviceAccountSelector:\n          name: bookinfo-productpage\n",
		"      - serviceAccountSelector:\n          name: bookinfo-productpage\n      - serviceAccountSelector:\n          name: bookinfo-reviews\n")
	meshtest.WaitFor(t, func() bool { return versions(t, cp)[gw1ID] != before[gw1ID] })
	synced(t, cp, proxies)
	after := versions(t, cp)

	changed := 0
	for _, id := range everyProxy {
		got := proxies[id].applied()
		if after[id] == before[id] {
			if len(got) != 1 {
				t.Errorf("%s is not affected by the edit but applied %v", id, got)
			}
			continue
		}
		changed++
		if strings.Join(got, ",") != before[id]+","+after[id] {
			t.Errorf("%s applied %v, want [%s %s]", id, got, before[id], after[id])
		}
	}
	if changed == 0 || changed == len(everyProxy) {
		t.Errorf("%d of %d proxies affected by a policy edit; the test needs some of each", changed, len(everyProxy))
	}
	for _, id := range []string{ppID, rvID} {
		if after[id] != before[id] {
			t.Errorf("the sidecar %s was sent a policy change; policies are enforced by the gateways", id)
		}
	}
}

// A file that does not decode keeps its last good contents (reported as a load warning); a change
// that decodes but is invalid is rejected whole. Either way the served configs do not change.
func TestAnInvalidChangeIsReportedAndChangesNothing(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
		kept                       bool // the file's last good contents are used, rather than the change rejected
	}{
		{"yaml that does not parse", policy, "  config:\n", "  config: [\n", policy, true},
		{"an invalid resource", "03-external-service.yaml", "portMatch: 80", "portMatch: 0x1ffff", "must be 1-65535", false},
		{"an unknown field", "05-workloads.yaml", "serviceAccount: bookinfo-reviews", "serviceAcount: bookinfo-reviews", "unknown field", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := meshtest.CopyExample(t, nil)
			cp := startCP(t, dir)
			proxies := map[string]*proxy{}
			for _, id := range everyProxy {
				proxies[id] = connect(t, cp, id)
			}
			synced(t, cp, proxies)
			before := versions(t, cp)
			applied := cp.Status().Applied

			orig, _ := os.ReadFile(filepath.Join(dir, tc.file))
			meshtest.Edit(t, dir, tc.file, tc.old, tc.new)
			reported := func() []string {
				if tc.kept {
					return cp.Status().LoadWarnings
				}
				return cp.Status().Rejected
			}
			meshtest.WaitFor(t, func() bool { return len(reported()) > 0 })
			st := cp.Status()
			if got := strings.Join(reported(), "\n"); !strings.Contains(got, tc.want) || tc.kept && !strings.Contains(got, "last good contents") {
				t.Errorf("reported %q, want it to mention %q", got, tc.want)
			}
			if tc.kept && len(st.Rejected) != 0 {
				t.Errorf("a file that does not decode rejected the change: %v", st.Rejected)
			}
			if !tc.kept && (!st.Applied.Equal(applied) || st.LoadError == "") {
				t.Errorf("applied time moved from %v to %v on a rejected change (load error %q)", applied, st.Applied, st.LoadError)
			}
			if after := versions(t, cp); !equal(after, before) {
				t.Errorf("a rejected change changed the served configs:\nbefore %v\nafter  %v", before, after)
			}
			for id, p := range proxies {
				if got := p.applied(); len(got) != 1 {
					t.Errorf("%s applied %v after a rejected change", id, got)
				}
			}

			// Fixing it (back to the original) clears the rejection and serves the same configs.
			if err := os.WriteFile(filepath.Join(dir, tc.file), orig, 0o644); err != nil {
				t.Fatal(err)
			}
			meshtest.WaitFor(t, func() bool { return len(reported()) == 0 })
			if after := versions(t, cp); !equal(after, before) {
				t.Errorf("the fixed files serve other configs:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestFixingARejectedChangeAppliesIt(t *testing.T) {
	dir := meshtest.CopyExample(t, nil)
	cp := startCP(t, dir)
	pp := connect(t, cp, ppID)
	gw := connect(t, cp, gw1ID)
	meshtest.WaitFor(t, func() bool { return len(pp.applied()) == 1 && len(gw.applied()) == 1 })
	before := versions(t, cp)

	meshtest.Edit(t, dir, policy, "name: egress-access-productpage", "name: egress_access_productpage")
	meshtest.WaitFor(t, func() bool { return len(cp.Status().Rejected) > 0 })
	orig, err := os.ReadFile(filepath.Join(dir, policy))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.NewReplacer("name: egress_access_productpage", "name: egress-access-productpage", "name: bookinfo-productpage", "name: bookinfo-reviews").Replace(string(orig))
	if err := os.WriteFile(filepath.Join(dir, policy), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	meshtest.WaitFor(t, func() bool { return len(cp.Status().Rejected) == 0 && versions(t, cp)[gw1ID] != before[gw1ID] })
	after := versions(t, cp)
	meshtest.WaitFor(t, func() bool {
		got := gw.applied()
		return got[len(got)-1] == after[gw1ID]
	})
	if got := gw.applied(); len(got) != 2 {
		t.Errorf("the gateway applied %v: the rejected version must never be sent", got)
	}
}

func TestAnUnknownIdentityIsServedNothing(t *testing.T) {
	cp := startCP(t, meshtest.CopyExample(t, nil))
	for _, id := range []string{
		"spiffe://cluster1/ns/bookinfo/sa/ratings",
		"spiffe://cluster3/ns/gloo-mesh-gateways/sa/istio-egressgateway",
		cpID,
	} {
		if _, err := cp.VersionFor(id); !errors.Is(err, xds.ErrUnknownProxy) {
			t.Errorf("VersionFor(%s): %v, want ErrUnknownProxy", id, err)
		}
	}
	// And a proxy with such an identity is refused its stream, never listed as connected.
	p := connect(t, cp, "spiffe://cluster1/ns/bookinfo/sa/ratings")
	time.Sleep(100 * time.Millisecond) // let it try a few times; nothing can arrive
	if got := p.applied(); len(got) != 0 {
		t.Errorf("an unknown proxy applied %v", got)
	}
	for _, s := range cp.Status().Proxies {
		if s.Identity == "spiffe://cluster1/ns/bookinfo/sa/ratings" {
			t.Errorf("an unknown proxy is in the status: %+v", s)
		}
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
