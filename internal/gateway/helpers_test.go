package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"egret.dev/egret/internal/ca"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// newMeshAt is a mesh whose CA believes it is at, so its SVIDs may already have expired.
func newMeshAt(t testing.TB, at time.Time) *mesh {
	t.Helper()
	c, err := ca.New(ca.Params{DataDir: t.TempDir(), Clock: fixedClock(at)})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Root())
	return &mesh{t: t, ca: c, pool: pool}
}

func ptr[T any](v T) *T { return &v }

// dialTLS opens an mTLS connection to the gateway as id, offering one ALPN protocol.
func dialTLS(t testing.TB, m *mesh, addr, id, alpn string) *tls.Conn {
	t.Helper()
	cert := m.svid(id, time.Hour)
	conn, err := tls.Dial("tcp", addr, &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // verified below by SPIFFE ID
		VerifyConnection:   func(cs tls.ConnectionState) error { return verifySPIFFE(cs, m.pool, gatewaySVID) },
		NextProtos:         []string{alpn},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fetch(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// extraPolicy changes the gateway's config (and so its version) and still allows productpage.
const extraPolicy = `apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata: {name: details-too, namespace: bookinfo}
spec:
  applyToDestinations: [{kind: EXTERNAL_SERVICE, selector: {name: google}}]
  config:
    authz:
      allowedClients: [{serviceAccountSelector: {name: bookinfo-details}}]
`

// mutualService adds a MUTUAL-origination service exposed on the gateway, whose key path the config
// dump must hide.
const mutualService = `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: partner, namespace: bookinfo}
spec:
  hosts: [www.google.com]
  ports:
  - name: https
    number: 8443
    protocol: HTTPS
    clientsideTls: {mode: MUTUAL, clientCertificate: /etc/egret/client.pem, privateKey: /etc/egret/client-key.pem}
    egressGatewayRoutes:
      portMatch: 8080
      virtualGatewayRefs: [{name: istio-egressgateway, cluster: cluster1}]
`
