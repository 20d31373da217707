package xds_test

import (
	"context"
	"crypto/tls"
	"egret.dev/egret/internal/xds"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/source/file"
	pb "egret.dev/egret/internal/xds/configv1"
)

// The identities of the example mesh (meshtest.Plan).
const (
	cpID  = "spiffe://cluster1/egret/controlplane"
	gwID  = "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"
	ppID  = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"
	rvID  = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"
	unkID = "spiffe://cluster1/ns/bookinfo/sa/stranger"
)

const addedService = `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata:
  name: added
  namespace: bookinfo
spec:
  hosts:
  - added.example.com
  ports:
  - name: https
    number: 443
    protocol: HTTPS
`

// startDelta serves d's gRPC over mutual TLS on a free loopback port, as the control plane does.
func startDelta(t *testing.T, m *meshtest.Mesh, d *xds.DeltaServer) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(xds.ADSPath, d.Handler())
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.TLS = m.ServerTLS(cpID)
	srv.StartTLS()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.Listener.Addr().String()
}

func clientTLS(m *meshtest.Mesh, id string) *tls.Config {
	cert := m.SVID(id, time.Hour)
	return &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // the SPIFFE ID is the name; checked below
		VerifyConnection:   func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, m.Pool, cpID) },
	}
}

// lastMsg records what a delta client applied, refusing while refuse is set.
type lastMsg struct {
	mu     sync.Mutex
	msgs   []xds.Message
	refuse bool
}

func (l *lastMsg) apply(m xds.Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refuse {
		return errors.New("listener 8443: port already in use")
	}
	l.msgs = append(l.msgs, m)
	return nil
}

func (l *lastMsg) last() (xds.Message, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.msgs) == 0 {
		return xds.Message{}, 0
	}
	return l.msgs[len(l.msgs)-1], len(l.msgs)
}

func runDelta(t *testing.T, m *meshtest.Mesh, addr, id, kind string, l *lastMsg) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- xds.RunDeltaClient(ctx, xds.DeltaClientParams{Address: addr, TLS: clientTLS(m, id), Kind: kind, Apply: l.apply,
			Log: slog.New(slog.DiscardHandler), MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunDeltaClient: %v", err)
		}
	})
}

func deltaState(d *xds.DeltaServer, id string) string {
	for _, p := range d.Status() {
		if p.Identity == id && p.Connected {
			return p.State()
		}
	}
	return "absent"
}

func TestDeltaXDS(t *testing.T) {
	m := meshtest.NewMesh(t)
	plan := meshtest.Plan(t)
	d := xds.NewDeltaServer(nil)
	if err := d.Update(plan, nil); err != nil {
		t.Fatal(err)
	}
	addr := startDelta(t, m, d)

	t.Run("a sidecar and a gateway are sent their configs and are SYNCED per resource type", func(t *testing.T) {
		var sc, gw lastMsg
		runDelta(t, m, addr, ppID, xds.KindSidecar, &sc)
		runDelta(t, m, addr, gwID, xds.KindGateway, &gw)
		meshtest.WaitFor(t, func() bool { return deltaState(d, ppID) == "SYNCED" && deltaState(d, gwID) == "SYNCED" })
		s, _ := sc.last()
		if s.Sidecar == nil || s.Sidecar.Workload.Identity.String() != ppID || len(s.Sidecar.Plan.Services) != len(plan.Services) {
			t.Fatalf("sidecar config: %+v", s.Sidecar)
		}
		g, _ := gw.last()
		if g.Gateway == nil || g.Gateway.Gateway.Identity.String() != gwID || len(g.Gateway.Plan.Policies) == 0 {
			t.Fatalf("gateway config: %+v", g.Gateway)
		}
		for _, p := range d.Status() {
			if p.Identity == ppID && len(p.Types) != len(xds.SidecarTypes) {
				t.Errorf("sidecar status types: %+v", p.Types)
			}
		}

		before := d.BytesSent()
		plan2 := meshtest.Plan(t, addedService)
		if err := d.Update(plan2, nil); err != nil {
			t.Fatal(err)
		}
		meshtest.WaitFor(t, func() bool {
			s, _ := sc.last()
			return len(s.Sidecar.Plan.Services) == len(plan.Services)+1
		})
		meshtest.WaitFor(t, func() bool { return deltaState(d, ppID) == "SYNCED" })
		// One added service is one resource, not the registry: well under a whole config's size.
		if sent := d.BytesSent() - before; sent <= 0 || sent > 2000 {
			t.Errorf("adding one ExternalService sent %d bytes", sent)
		}
		if err := d.Update(plan, nil); err != nil { // and removed again
			t.Fatal(err)
		}
		meshtest.WaitFor(t, func() bool {
			s, _ := sc.last()
			return len(s.Sidecar.Plan.Services) == len(plan.Services)
		})
	})

	t.Run("a service added before all others is still one resource", func(t *testing.T) {
		dir := t.TempDir()
		src := file.NewDir(dir, file.Options{})
		xds.ExampleDir(t, dir, nil)
		if err := d.Update(xds.DirPlan(t, src), nil); err != nil {
			t.Fatal(err)
		}
		var sc lastMsg
		runDelta(t, m, addr, ppID, xds.KindSidecar, &sc)
		meshtest.WaitFor(t, func() bool { _, n := sc.last(); return n > 0 && deltaState(d, ppID) == "SYNCED" })
		xds.ExampleDir(t, dir, map[string]string{"00-added.yaml": addedService}) // sorts before every other file
		plan2 := xds.DirPlan(t, src)
		before := d.BytesSent()
		if err := d.Update(plan2, nil); err != nil {
			t.Fatal(err)
		}
		meshtest.WaitFor(t, func() bool {
			s, n := sc.last()
			return n > 0 && len(s.Sidecar.Plan.Services) == len(plan.Services)+1 && deltaState(d, ppID) == "SYNCED"
		})
		// The others keep their keys: the sidecar still sees the plan's order, the new one first.
		if s, _ := sc.last(); s.Sidecar.Plan.Services[0].ID != plan2.Services[0].ID || plan2.Services[0].ID != "bookinfo/added" {
			t.Errorf("first service %s, want %s", s.Sidecar.Plan.Services[0].ID, plan2.Services[0].ID)
		}
		if sent := d.BytesSent() - before; sent <= 0 || sent > 2000 {
			t.Errorf("adding one ExternalService in front sent %d bytes", sent)
		}
		if err := d.Update(plan, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a NACK is recorded with its error and the proxy keeps its last config", func(t *testing.T) {
		l := lastMsg{}
		runDelta(t, m, addr, rvID, xds.KindSidecar, &l)
		meshtest.WaitFor(t, func() bool { return deltaState(d, rvID) == "SYNCED" })
		l.mu.Lock()
		l.refuse = true
		l.mu.Unlock()
		if err := d.Update(meshtest.Plan(t, addedService), nil); err != nil {
			t.Fatal(err)
		}
		meshtest.WaitFor(t, func() bool { return deltaState(d, rvID) == "NACKED" })
		for _, p := range d.Status() {
			if p.Identity == rvID && p.Connected && !strings.Contains(p.Nack, "port already in use") {
				t.Errorf("NACK detail: %q", p.Nack)
			}
		}
		if err := d.Update(plan, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a sidecar asking for another workload's resource gets only its own", func(t *testing.T) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(m, rvID))))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// It claims productpage's node id and names productpage's Workload.
		req := &discovery.DeltaDiscoveryRequest{TypeUrl: xds.TypeWorkload, ResourceNamesSubscribe: []string{ppID, "*"}}
		req.Node = nil
		if err := s.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Resources) != 1 || resp.Resources[0].Name != rvID {
			t.Fatalf("got %d resources, first %q; want reviews' own only", len(resp.Resources), resp.Resources[0].GetName())
		}
		var w pb.Workload
		if err := resp.Resources[0].Resource.UnmarshalTo(&w); err != nil || w.Identity != rvID {
			t.Fatalf("workload %v, %v", w.Identity, err)
		}
		// And the gateway's policies are not served to it at all.
		if err := s.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: xds.TypePolicy}); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err = s.Recv(); err != nil {
				break
			}
		}
		if !strings.Contains(err.Error(), "not served to a sidecar") {
			t.Errorf("asking a sidecar's stream for policies: %v", err)
		}
	})

	t.Run("an identity the plan does not know is refused", func(t *testing.T) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(m, unkID))))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		s, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(context.Background())
		if err == nil {
			_ = s.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: xds.TypeMesh})
			_, err = s.Recv()
		}
		if err == nil || !strings.Contains(err.Error(), "no gateway or workload") {
			t.Errorf("stranger: %v", err)
		}
	})
}
