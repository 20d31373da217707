package xds_test

import (
	"context"
	"egret.dev/egret/internal/xds"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"egret.dev/egret/internal/meshtest"
)

// A control plane restarted (a new DeltaServer on the same address) is sent the versions each proxy
// holds; types whose versions are current are not sent again, and the proxy must still be SYNCED (it
// ACKs what does arrive) and apply what changed while it was away.
func TestAProxyReconnectingToARestartedControlPlaneIsSynced(t *testing.T) {
	m := meshtest.NewMesh(t)
	plan := meshtest.Plan(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	serve := func(ln net.Listener, d *xds.DeltaServer) *http.Server {
		mux := http.NewServeMux()
		mux.Handle(xds.ADSPath, d.Handler())
		srv := &http.Server{Handler: mux, TLSConfig: m.ServerTLS(cpID)}
		go srv.ServeTLS(ln, "", "")
		return srv
	}
	first := xds.NewDeltaServer(nil)
	if err := first.Update(plan, nil); err != nil {
		t.Fatal(err)
	}
	srv := serve(ln, first)
	var sc, gw lastMsg
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		id, kind string
		l        *lastMsg
	}{{ppID, xds.KindSidecar, &sc}, {gwID, xds.KindGateway, &gw}} {
		go xds.RunDeltaClient(ctx, xds.DeltaClientParams{Address: addr, TLS: clientTLS(m, c.id), Kind: c.kind, Apply: c.l.apply,
			Log: slog.New(slog.DiscardHandler), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	}
	meshtest.WaitFor(t, func() bool { return deltaState(first, ppID) == "SYNCED" && deltaState(first, gwID) == "SYNCED" })
	srv.Close()

	t.Run("with the same plan, nothing is sent again and both proxies are SYNCED", func(t *testing.T) {
		second := xds.NewDeltaServer(nil)
		if err := second.Update(plan, nil); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := serve(ln, second)
		defer srv.Close()
		meshtest.WaitFor(t, func() bool { return deltaState(second, ppID) == "SYNCED" && deltaState(second, gwID) == "SYNCED" })
		if _, n := sc.last(); n != 1 {
			t.Errorf("the sidecar applied %d configs; the restart changed nothing", n)
		}
		for _, p := range second.Status() {
			for _, ts := range p.Types {
				if ts.State() != "SYNCED" {
					t.Errorf("%s %s: %s", p.Identity, ts.Type, ts.State())
				}
			}
		}
	})
	t.Run("with a service added while away, the sidecar applies it and is SYNCED", func(t *testing.T) {
		third := xds.NewDeltaServer(nil)
		if err := third.Update(meshtest.Plan(t, addedService), nil); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := serve(ln, third)
		defer srv.Close()
		meshtest.WaitFor(t, func() bool {
			s, _ := sc.last()
			return len(s.Sidecar.Plan.Services) == len(plan.Services)+1 && deltaState(third, ppID) == "SYNCED"
		})
		want, err := third.VersionFor(ppID)
		if s, _ := sc.last(); err != nil || s.Version != want {
			t.Errorf("the sidecar applied version %s, the control plane serves %s (%v)", s.Version, want, err)
		}
	})
}
