package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// Both HTTP/2 engines serve the mesh listener with the caller's identity, the decision and the
// access log; x/net's stays available as a fallback.
func TestBothHTTP2EnginesServeTheMeshListener(t *testing.T) {
	for _, engine := range []string{"", gateway.HTTP2ServerEgret, gateway.HTTP2ServerXNet} {
		t.Run(fmt.Sprintf("engine %q", engine), func(t *testing.T) {
			m := meshtest.NewMesh(t)
			ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
			gw := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, func(p *gateway.Params) { p.HTTP2Server = engine })
			resp, body := get(t, m.Client(meshtest.Productpage, gw.Addr), "https://www.google.com/", nil)
			if resp.StatusCode != http.StatusOK || body != "ok" || resp.Proto != "HTTP/2.0" {
				t.Errorf("productpage: %s %d %q, want HTTP/2.0 200 ok", resp.Proto, resp.StatusCode, body)
			}
			resp, _ = get(t, m.Client(meshtest.Reviews, gw.Addr), "https://www.google.com/", nil)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("reviews: %d, want 403", resp.StatusCode)
			}
		})
	}
}

// An unknown engine is an error when the listener is made, naming the choices.
func TestAnUnknownHTTP2EngineIsAnError(t *testing.T) {
	m := meshtest.NewMesh(t)
	p := gateway.Params{
		Address: "127.0.0.1", PortOverrides: map[uint32]uint32{8443: 0}, TLS: m.ServerTLS(meshtest.GatewaySVID),
		Log: slog.New(slog.DiscardHandler), HTTP2Server: "nghttp2",
		Upstream: gateway.NewUpstream(gateway.UpstreamParams{}),
	}
	gw, err := gateway.New(p, meshtest.SeedConfig(t))
	if err == nil {
		if err = gw.Start(); err == nil {
			_ = gw.Shutdown(context.Background())
		}
	}
	if err == nil || !strings.Contains(err.Error(), `unknown HTTP/2 server "nghttp2"`) {
		t.Errorf("error %v, want one naming the unknown engine", err)
	}
}
