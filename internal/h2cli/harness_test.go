package h2cli_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"egret.dev/egret/internal/h2cli"
	"egret.dev/egret/internal/meshtest"
)

// tlsPair is a mesh with a gateway's server config and a workload's client config, verified both ways.
type tlsPair struct {
	server *tls.Config
	client *tls.Config
}

func newTLSPair(t testing.TB) tlsPair {
	m := meshtest.NewMesh(t)
	server := m.ServerTLS(meshtest.GatewaySVID)
	server.NextProtos = []string{"h2"}
	cert := m.SVID(meshtest.Productpage, time.Hour)
	client := &tls.Config{
		Certificates:       []tls.Certificate{cert},
		NextProtos:         []string{"h2"},
		InsecureSkipVerify: true, // the chain and SPIFFE ID are verified below
		VerifyConnection:   func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, m.Pool, meshtest.GatewaySVID) },
	}
	return tlsPair{server: server, client: client}
}

// listen accepts mTLS connections on loopback and hands each, handshaken, to serve.
func listen(t testing.TB, p tlsPair, serve func(*tls.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				tc := tls.Server(c, p.server)
				if err := tc.Handshake(); err != nil {
					c.Close()
					return
				}
				serve(tc)
			}()
		}
	}()
	return ln.Addr().String()
}

// startServer runs x/net's HTTP/2 server behind mTLS on loopback.
func startServer(t testing.TB, p tlsPair, h http.Handler, tune func(*http2.Server)) string {
	srv := &http2.Server{}
	if tune != nil {
		tune(srv)
	}
	return listen(t, p, func(tc *tls.Conn) {
		srv.ServeConn(tc, &http2.ServeConnOpts{Handler: h, BaseConfig: &http.Server{}})
	})
}

// newTransport is h2cli's client for addr, presenting the workload's SVID.
func newTransport(t testing.TB, p tlsPair, addr string) *h2cli.Transport {
	tr := &h2cli.Transport{
		Dial: func(ctx context.Context) (*tls.Conn, error) {
			var d net.Dialer
			raw, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			c := tls.Client(raw, p.client)
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		},
		PingAfter:   time.Second,
		PingTimeout: time.Second,
		IdleTimeout: time.Minute,
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func get(t testing.TB, tr http.RoundTripper, url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr.RoundTrip(req)
}
