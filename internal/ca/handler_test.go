package ca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/ca/enrollproto"
)

type testServer struct {
	ca   *ca.CA
	clk  *fakeClock
	logs *syncBuffer
	url  string
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	clk := newFakeClock()
	logs := &syncBuffer{}
	c := newCA(t, t.TempDir(), clk, logs)
	cfg, err := c.ServerTLSConfig(ca.ServerTLSParams{TrustDomain: spiffeid.RequireTrustDomainFromString("cluster1"), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ca.NewEnrollHandler(c), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &testServer{ca: c, clk: clk, logs: logs, url: "https://" + ln.Addr().String()}
}

// client returns an HTTPS client that verifies the server against root and presents cert if given.
func (s *testServer) client(root *x509.Certificate, cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	cfg := &tls.Config{RootCAs: pool, Time: s.clk.Now}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func (s *testServer) post(t *testing.T, cl *http.Client, path string, body any) (int, enrollproto.SVIDResponse, enrollproto.ErrorResponse, error) {
	t.Helper()
	raw, _ := json.Marshal(body)
	resp, err := cl.Post(s.url+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0, enrollproto.SVIDResponse{}, enrollproto.ErrorResponse{}, err
	}
	defer resp.Body.Close()
	var ok enrollproto.SVIDResponse
	var bad enrollproto.ErrorResponse
	if resp.StatusCode == http.StatusOK {
		err = json.NewDecoder(resp.Body).Decode(&ok)
	} else {
		err = json.NewDecoder(resp.Body).Decode(&bad)
	}
	return resp.StatusCode, ok, bad, err
}

// enroll redeems a fresh token for id and returns the TLS certificate it yields.
func (s *testServer) enroll(t *testing.T, id spiffeid.ID) (*tls.Certificate, enrollproto.SVIDResponse) {
	t.Helper()
	tok, err := s.ca.Tokens().Create(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	code, resp, bad, err := s.post(t, s.client(s.ca.Root(), nil), enrollproto.PathEnroll,
		enrollproto.EnrollRequest{Token: tok.Encode(), CSRPEM: string(makeCSR(t, key, csrSpec{}))})
	if err != nil || code != http.StatusOK {
		t.Fatalf("enroll: %d %v %v", code, bad, err)
	}
	return tlsCert(t, resp.SVIDPEM, key), resp
}

func tlsCert(t *testing.T, svidPEM string, key *ecdsa.PrivateKey) *tls.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(svidPEM))
	if block == nil {
		t.Fatal("no certificate in response")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key, Leaf: leaf}
}

func TestEnrollAndRenew(t *testing.T) {
	s := startServer(t)
	cert, resp := s.enroll(t, idA)
	if resp.SPIFFEID != idA.String() || cert.Leaf.URIs[0].String() != idA.String() {
		t.Fatalf("enrolled as %s / %v, want %s", resp.SPIFFEID, cert.Leaf.URIs, idA)
	}
	if !strings.Contains(resp.BundlePEM, "BEGIN CERTIFICATE") {
		t.Fatalf("no bundle in response")
	}

	s.clk.Advance(13 * time.Hour)
	key := newKey(t)
	code, renewed, bad, err := s.post(t, s.client(s.ca.Root(), cert), enrollproto.PathRenew,
		enrollproto.RenewRequest{CSRPEM: string(makeCSR(t, key, csrSpec{uris: []string{idA.String()}}))})
	if err != nil || code != http.StatusOK {
		t.Fatalf("renew: %d %v %v", code, bad, err)
	}
	newCert := tlsCert(t, renewed.SVIDPEM, key)
	if !newCert.Leaf.NotAfter.After(cert.Leaf.NotAfter) || renewed.SPIFFEID != idA.String() {
		t.Fatalf("renewed cert %s expires %s, old %s", renewed.SPIFFEID, newCert.Leaf.NotAfter, cert.Leaf.NotAfter)
	}
	if !strings.Contains(s.logs.String(), "issuance granted") {
		t.Fatalf("issuance not logged:\n%s", s.logs)
	}
}

func TestEnrollAttacks(t *testing.T) {
	s := startServer(t)
	anon := s.client(s.ca.Root(), nil)
	used, _ := s.ca.Tokens().Create(idA, time.Hour)
	if code, _, bad, err := s.post(t, anon, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: used.Encode(), CSRPEM: string(makeCSR(t, newKey(t), csrSpec{}))}); code != 200 {
		t.Fatalf("first use: %d %v %v", code, bad, err)
	}
	expired, _ := s.ca.Tokens().Create(idA, time.Minute)
	forB, _ := s.ca.Tokens().Create(idA, time.Hour)
	asCA, _ := s.ca.Tokens().Create(idA, time.Hour)
	withDNS, _ := s.ca.Tokens().Create(idA, time.Hour)
	s.clk.Advance(2 * time.Minute)

	tests := []struct {
		name     string
		token    string
		csr      csrSpec
		wantCode int
		wantErr  string
	}{
		{"a token used twice", used.Encode(), csrSpec{}, 401, enrollproto.CodeTokenRejected},
		{"an expired token", expired.Encode(), csrSpec{}, 401, enrollproto.CodeTokenRejected},
		{"a token for A with a CSR for B", forB.Encode(), csrSpec{uris: []string{idB.String()}}, 400, enrollproto.CodeCSRRejected},
		{"a CSR asking to be a CA", asCA.Encode(), csrSpec{isCA: true}, 400, enrollproto.CodeCSRRejected},
		{"a CSR with a DNS SAN", withDNS.Encode(), csrSpec{dns: []string{"api.example.com"}}, 400, enrollproto.CodeCSRRejected},
		{"a malformed token", "egret1.nope", csrSpec{}, 401, enrollproto.CodeTokenRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, resp, bad, err := s.post(t, anon, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: tc.token, CSRPEM: string(makeCSR(t, newKey(t), tc.csr))})
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || bad.Code != tc.wantErr || resp.SVIDPEM != "" {
				t.Fatalf("got %d %+v (svid %q), want %d %s", code, bad, resp.SVIDPEM, tc.wantCode, tc.wantErr)
			}
		})
	}
	t.Run("a token spent on a refused CSR cannot be retried", func(t *testing.T) {
		code, _, _, _ := s.post(t, anon, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: forB.Encode(), CSRPEM: string(makeCSR(t, newKey(t), csrSpec{}))})
		if code != 401 {
			t.Fatalf("got %d, want 401", code)
		}
	})
	t.Run("refusals are logged without the secret", func(t *testing.T) {
		logs := s.logs.String()
		if !strings.Contains(logs, "enroll refused") || !strings.Contains(logs, "issuance refused") {
			t.Fatalf("refusals not logged:\n%s", logs)
		}
		for _, tok := range []enrollproto.Token{used, expired, forB, asCA, withDNS} {
			if strings.Contains(logs, tok.Secret.Reveal()) {
				t.Fatalf("token secret in the log:\n%s", logs)
			}
		}
	})
	t.Run("an oversized body is refused", func(t *testing.T) {
		code, _, bad, _ := s.post(t, anon, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: strings.Repeat("x", enrollproto.MaxBodyBytes)})
		if code != http.StatusRequestEntityTooLarge || bad.Code != enrollproto.CodeTooLarge {
			t.Fatalf("got %d %+v", code, bad)
		}
	})
}

func TestRenewAttacks(t *testing.T) {
	s := startServer(t)
	cert, _ := s.enroll(t, idA)
	renewCSR := func(id spiffeid.ID) enrollproto.RenewRequest {
		return enrollproto.RenewRequest{CSRPEM: string(makeCSR(t, newKey(t), csrSpec{uris: []string{id.String()}}))}
	}

	t.Run("renewal asking for another identity", func(t *testing.T) {
		code, resp, bad, err := s.post(t, s.client(s.ca.Root(), cert), enrollproto.PathRenew, renewCSR(idB))
		if err != nil || code != http.StatusForbidden || bad.Code != enrollproto.CodeIdentityMismatch || resp.SVIDPEM != "" {
			t.Fatalf("got %d %+v %v", code, bad, err)
		}
	})
	t.Run("renewal without a client certificate", func(t *testing.T) {
		code, _, bad, err := s.post(t, s.client(s.ca.Root(), nil), enrollproto.PathRenew, renewCSR(idA))
		if err != nil || code != http.StatusUnauthorized || bad.Code != enrollproto.CodeUnauthenticated {
			t.Fatalf("got %d %+v %v", code, bad, err)
		}
	})
	t.Run("renewal with a certificate from another CA", func(t *testing.T) {
		other := newCA(t, t.TempDir(), s.clk, nil)
		key := newKey(t)
		foreign, err := other.SignCSR(makeCSR(t, key, csrSpec{}), idA, 0)
		if err != nil {
			t.Fatal(err)
		}
		fc := &tls.Certificate{Certificate: [][]byte{foreign.Certificate.Raw}, PrivateKey: key, Leaf: foreign.Certificate}
		code, _, _, err := s.post(t, s.client(s.ca.Root(), fc), enrollproto.PathRenew, renewCSR(idA))
		if err == nil {
			t.Fatalf("renewal with a foreign certificate got HTTP %d, want a failed handshake", code)
		}
		if !strings.Contains(err.Error(), "remote error: tls: bad certificate") && !strings.Contains(err.Error(), "unknown certificate authority") {
			t.Fatalf("error %v, want the server to reject the certificate", err)
		}
	})
	t.Run("renewal with an expired certificate", func(t *testing.T) {
		s.clk.Advance(25 * time.Hour)
		code, _, _, err := s.post(t, s.client(s.ca.Root(), cert), enrollproto.PathRenew, renewCSR(idA))
		if err == nil {
			t.Fatalf("renewal with an expired certificate got HTTP %d, want a failed handshake", code)
		}
		if !strings.Contains(err.Error(), "expired certificate") {
			t.Fatalf("error %v, want the server to reject the expired certificate", err)
		}
	})
	t.Run("the server certificate cannot be used as a client identity", func(t *testing.T) {
		// The server cert has server-auth only; using it from another connection must fail.
		conn, err := tls.Dial("tcp", strings.TrimPrefix(s.url, "https://"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		srvCert := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		for _, u := range srvCert.ExtKeyUsage {
			if u == x509.ExtKeyUsageClientAuth {
				t.Fatal("server certificate allows client auth")
			}
		}
		if srvCert.URIs[0].String() != "spiffe://cluster1/egret/controlplane" {
			t.Fatalf("server SPIFFE ID = %s", srvCert.URIs[0])
		}
	})
}
