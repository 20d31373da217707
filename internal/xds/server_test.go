package xds

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
)

const (
	cpID  = "spiffe://cluster1/egret/controlplane"
	gwID  = "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"
	ppID  = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"
	rvID  = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"
	unkID = "spiffe://cluster1/ns/bookinfo/sa/stranger"
)

// fakeSource is a plan the test controls: one Message per identity.
type fakeSource struct {
	mu    sync.Mutex
	msgs  map[string]Message
	calls map[string]int
}

func newFakeSource() *fakeSource {
	return &fakeSource{msgs: map[string]Message{}, calls: map[string]int{}}
}

func (f *fakeSource) set(id, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs[id] = Message{Kind: KindSidecar, Version: version}
}

func (f *fakeSource) callsFor(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeSource) ConfigFor(id string) (Message, string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[id]++
	m, ok := f.msgs[id]
	if !ok {
		return Message{}, "", "", fmt.Errorf("%s: %w", id, ErrUnknownProxy)
	}
	return m, id[strings.LastIndex(id, "/")+1:], "cluster1", nil
}

// startServer serves s over mutual TLS on addr (a free loopback port when empty), with the control
// plane's SVID from the mesh's CA.
func startServer(t *testing.T, m *meshtest.Mesh, s *Server, addr string) *httptest.Server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	// A restarted server takes over the address; the old socket may take a moment to be released.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.EnableHTTP2 = true
	srv.TLS = m.ServerTLS(cpID)
	srv.StartTLS()
	t.Cleanup(func() {
		// Close waits for handlers, and a config stream's handler runs until its connection ends.
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// recorder is a proxy's Apply: it records every version and refuses the ones listed in refuse.
type recorder struct {
	mu      sync.Mutex
	applied []string
	refuse  map[string]bool
}

func (r *recorder) apply(m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, m.Version)
	if r.refuse[m.Version] {
		return errors.New("listener 8443: port already in use")
	}
	return nil
}

func (r *recorder) versions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.applied...)
}

// logBuffer collects a client's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runClient starts a proxy holding id's SVID that verifies the control plane's SPIFFE ID.
func runClient(t *testing.T, m *meshtest.Mesh, addr, id string, r *recorder, log *logBuffer) {
	t.Helper()
	cert := m.SVID(id, time.Hour)
	conf := &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // the SPIFFE ID is the name; checked below
		VerifyConnection:   func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, m.Pool, cpID) },
	}
	if log == nil {
		log = &logBuffer{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunClient(ctx, ClientParams{Address: addr, TLS: conf, Apply: r.apply,
			Log: slog.New(slog.NewTextHandler(log, nil)), MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunClient: %v", err)
		}
	})
}

func statusOf(s *Server, id string) (ProxyStatus, bool) {
	var found ProxyStatus
	ok := false
	for _, p := range s.Status() {
		if p.Identity == id && p.Connected {
			found, ok = p, true
		}
	}
	return found, ok
}

func waitState(t *testing.T, s *Server, id, version, state string) {
	t.Helper()
	meshtest.WaitFor(t, func() bool {
		p, ok := statusOf(s, id)
		return ok && p.Sent == version && p.State() == state
	})
}

func TestAProxyReceivesItsFirstConfigAndAcknowledgesIt(t *testing.T) {
	m := meshtest.NewMesh(t)
	src := newFakeSource()
	src.set(ppID, "v1")
	s := NewServer(src, nil)
	srv := startServer(t, m, s, "")
	r := &recorder{}
	runClient(t, m, srv.Listener.Addr().String(), ppID, r, nil)

	waitState(t, s, ppID, "v1", "SYNCED")
	if got := r.versions(); len(got) != 1 || got[0] != "v1" {
		t.Fatalf("applied %v, want [v1]", got)
	}
	p, _ := statusOf(s, ppID)
	if p.Kind != KindSidecar || p.Name != "bookinfo-productpage" || p.Cluster != "cluster1" || p.Acked != "v1" || p.Nack != "" {
		t.Errorf("status %+v", p)
	}
	if p.CertExpiry.Before(time.Now()) || p.CertExpiry.After(time.Now().Add(2*time.Hour)) {
		t.Errorf("certificate expiry %v is not the SVID's (one hour)", p.CertExpiry)
	}
}

func TestARefusedVersionIsRecordedAsANackWithItsError(t *testing.T) {
	m := meshtest.NewMesh(t)
	src := newFakeSource()
	src.set(gwID, "v1")
	s := NewServer(src, nil)
	srv := startServer(t, m, s, "")
	r := &recorder{refuse: map[string]bool{"v2": true}}
	runClient(t, m, srv.Listener.Addr().String(), gwID, r, nil)
	waitState(t, s, gwID, "v1", "SYNCED")

	src.set(gwID, "v2")
	s.Push()
	waitState(t, s, gwID, "v2", "NACKED")
	p, _ := statusOf(s, gwID)
	if p.Nack != "v2: listener 8443: port already in use" {
		t.Errorf("nack %q", p.Nack)
	}
	if p.Acked != "v1" {
		t.Errorf("acked %q: the last good version should stay v1", p.Acked)
	}

	// A later good version clears the NACK.
	src.set(gwID, "v3")
	s.Push()
	waitState(t, s, gwID, "v3", "SYNCED")
	if p, _ := statusOf(s, gwID); p.Nack != "" {
		t.Errorf("nack %q after v3 was acknowledged", p.Nack)
	}
}

func TestPushOnlySendsChangedVersionsToTheProxiesTheyConcern(t *testing.T) {
	m := meshtest.NewMesh(t)
	src := newFakeSource()
	src.set(ppID, "pp1")
	src.set(rvID, "rv1")
	s := NewServer(src, nil)
	srv := startServer(t, m, s, "")
	pp, rv := &recorder{}, &recorder{}
	runClient(t, m, srv.Listener.Addr().String(), ppID, pp, nil)
	runClient(t, m, srv.Listener.Addr().String(), rvID, rv, nil)
	waitState(t, s, ppID, "pp1", "SYNCED")
	waitState(t, s, rvID, "rv1", "SYNCED")

	// Unchanged versions: each stream looks again and sends nothing.
	before := src.callsFor(ppID)
	s.Push()
	s.Push()
	meshtest.WaitFor(t, func() bool { return src.callsFor(ppID) > before })

	// One proxy's config changes: only it gets a new version.
	src.set(rvID, "rv2")
	s.Push()
	waitState(t, s, rvID, "rv2", "SYNCED")
	// The marker version proves pp's stream processed the earlier pushes before we count.
	src.set(ppID, "pp2")
	s.Push()
	waitState(t, s, ppID, "pp2", "SYNCED")

	if got := pp.versions(); strings.Join(got, ",") != "pp1,pp2" {
		t.Errorf("productpage applied %v, want [pp1 pp2]: an unchanged version was sent again", got)
	}
	if got := rv.versions(); strings.Join(got, ",") != "rv1,rv2" {
		t.Errorf("reviews applied %v, want [rv1 rv2]", got)
	}
}

func TestAnUnknownIdentityIsRefusedAndTheClientRetriesWithBackoff(t *testing.T) {
	m := meshtest.NewMesh(t)
	src := newFakeSource()
	s := NewServer(src, nil)
	srv := startServer(t, m, s, "")
	r := &recorder{}
	log := &logBuffer{}
	runClient(t, m, srv.Listener.Addr().String(), unkID, r, log)

	meshtest.WaitFor(t, func() bool { return src.callsFor(unkID) >= 5 })
	out := log.String()
	if !strings.Contains(out, "control plane answered 403") || !strings.Contains(out, "no gateway or workload in the plan has this identity") {
		t.Fatalf("the client did not log the refusal:\n%s", out)
	}
	// The waits double from MinBackoff up to MaxBackoff.
	for _, want := range []string{"in=10ms", "in=20ms", "in=40ms", "in=80ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("no retry %s in the client's log:\n%s", want, out)
		}
	}
	if strings.Contains(out, "in=160ms") {
		t.Errorf("the backoff passed MaxBackoff:\n%s", out)
	}
	if len(r.versions()) != 0 {
		t.Errorf("an unknown proxy was sent %v", r.versions())
	}
	if _, ok := statusOf(s, unkID); ok {
		t.Errorf("an unknown proxy is listed as connected")
	}

	// Once the plan knows the identity, the next retry gets its config.
	src.set(unkID, "u1")
	waitState(t, s, unkID, "u1", "SYNCED")
}

func TestAStreamWithoutAClientCertificateIsRefused(t *testing.T) {
	m := meshtest.NewMesh(t)
	s := NewServer(newFakeSource(), nil)
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.EnableHTTP2 = true
	conf := m.ServerTLS(cpID)
	conf.ClientAuth = tls.VerifyClientCertIfGiven
	srv.TLS = conf
	srv.StartTLS()
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, path := range []string{StreamPath, AckPath} {
		method := http.MethodGet
		if path == AckPath {
			method = http.MethodPost
		}
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"version":"v1"}`))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a certificate: %d, want 401", method, path, resp.StatusCode)
		}
	}
}

func TestAClientKeepsItsConfigWhileTheServerIsGoneAndConvergesWhenItReturns(t *testing.T) {
	m := meshtest.NewMesh(t)
	src := newFakeSource()
	src.set(ppID, "v1")
	s1 := NewServer(src, nil)
	srv := startServer(t, m, s1, "")
	addr := srv.Listener.Addr().String()
	r := &recorder{}
	log := &logBuffer{}
	runClient(t, m, addr, ppID, r, log)
	waitState(t, s1, ppID, "v1", "SYNCED")

	srv.CloseClientConnections()
	srv.Close()
	meshtest.WaitFor(t, func() bool { return strings.Contains(log.String(), "config stream lost") })
	if got := r.versions(); strings.Join(got, ",") != "v1" {
		t.Fatalf("while the server was gone the proxy applied %v", got)
	}

	// A new server (empty state, as after a restart) on the same address, with a newer plan.
	src.set(ppID, "v2")
	s2 := NewServer(src, nil)
	startServer(t, m, s2, addr)
	waitState(t, s2, ppID, "v2", "SYNCED")
	if got := r.versions(); strings.Join(got, ",") != "v1,v2" {
		t.Errorf("applied %v, want [v1 v2]", got)
	}
}
