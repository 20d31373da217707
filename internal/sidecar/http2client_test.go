package sidecar_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/sidecar"
)

func TestBothHTTP2ClientsCarryTheSeedScenario(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "www.google.com", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.Host)
	})
	g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t), ext, nil)
	for _, client := range []string{sidecar.HTTP2ClientEgret, sidecar.HTTP2ClientXNet} {
		t.Run(client, func(t *testing.T) {
			sc := startSidecarWith(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", map[string]string{gw1: g.Addr}),
				func(p *sidecar.Params) { p.HTTP2Client = client })
			for i := 0; i < 3; i++ { // the pooled connection is reused
				status, body, err := get(t, viaProxy(sc.addr), "http://www.google.com/")
				if err != nil || status != 200 || body != "hello from www.google.com" {
					t.Fatalf("%d %q %v", status, body, err)
				}
			}
		})
	}
}

func TestAnUnknownHTTP2ClientIsAnError(t *testing.T) {
	p := sidecar.Params{ClientTLS: func(ir.SpiffeID) *tls.Config { return &tls.Config{} }, HTTP2Client: "nghttp2"}
	if _, err := sidecar.New(p, meshtest.SidecarConfig(t, "bookinfo", "productpage", nil)); err == nil || !strings.Contains(err.Error(), `"nghttp2"`) {
		t.Fatalf("err %v, want one naming the unknown client", err)
	}
}
