package origination

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is a local HTTPS (or plain) server standing in for an external
// host; it counts the TCP connections it accepts.
type upstream struct {
	srv      *httptest.Server
	newConns atomic.Int64
}

func startUpstream(t *testing.T, tc *tls.Config, h2 bool) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := "-"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			peer = r.TLS.PeerCertificates[0].URIs[0].String()
		}
		io.WriteString(w, r.Proto+" "+peer)
	}))
	u.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.newConns.Add(1)
		}
	}
	u.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are the point of several tests
	if tc == nil {
		u.srv.Start()
	} else {
		u.srv.TLS = tc
		u.srv.EnableHTTP2 = h2
		u.srv.StartTLS()
	}
	t.Cleanup(u.srv.Close)
	return u
}

// dialTo sends every dial to addr, the way the gateway's resolver maps an
// external host name to the stand-in's loopback address.
func dialTo(addr string, dials *atomic.Int64) DialContextFunc {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		if dials != nil {
			dials.Add(1)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

// get sends GET https://api.example.com:443/ (or http:// for DISABLE)
// through a transport from p.
func get(p *Pool, cfg Config) (string, error) {
	tr, err := p.Transport("api.example.com", 443, cfg)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequest("GET", Scheme(cfg)+"://api.example.com:443/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strconv.Itoa(resp.StatusCode) + " " + string(b), err
}

func TestOrigination(t *testing.T) {
	ca, other := newCA(t, "upstream CA"), newCA(t, "other CA")
	caFile := ca.caFile(t)
	api := ca.leaf(t, leafOpts{dns: []string{"api.example.com"}})
	expired := ca.leaf(t, leafOpts{dns: []string{"api.example.com"}, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	spiffe := ca.leaf(t, leafOpts{dns: []string{"internal.example.net"}, uris: []string{"spiffe://partner.example/ns/pay/sa/api"}})
	wildcard := ca.leaf(t, leafOpts{dns: []string{"*.example.com"}})
	foreign := other.leaf(t, leafOpts{dns: []string{"api.example.com"}})
	clientCert, clientKey := ca.keyPairFiles(t, ca.leaf(t, leafOpts{client: true, uris: []string{"spiffe://mesh.local/ns/egress/sa/gateway"}}), "client")
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(ca.cert)

	serve := func(c tls.Certificate) *tls.Config { return &tls.Config{Certificates: []tls.Certificate{c}} }
	requireClient := &tls.Config{Certificates: []tls.Certificate{api}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}

	tests := []struct {
		name   string
		server *tls.Config // nil: plain HTTP
		h2     bool
		cfg    Config
		want   string // response "status proto peer", or the Describe phrase (prefix)
	}{
		{"SIMPLE against the upstream's CA speaks h2", serve(api), true,
			Config{Mode: ModeSimple, CACertificates: caFile}, "200 HTTP/2.0 -"},
		{"SIMPLE to an HTTP/1.1-only upstream", serve(api), false,
			Config{Mode: ModeSimple, CACertificates: caFile, SNI: "api.example.com"}, "200 HTTP/1.1 -"},
		{"system roots do not trust a private CA", serve(api), true,
			Config{Mode: ModeSimple}, "certificate signed by unknown authority"},
		{"certificate from another CA", serve(foreign), true,
			Config{Mode: ModeSimple, CACertificates: caFile}, "certificate signed by unknown authority"},
		{"expired certificate", serve(expired), true,
			Config{Mode: ModeSimple, CACertificates: caFile}, "certificate has expired or is not yet valid"},
		{"SNI names a host the certificate does not cover", serve(api), true,
			Config{Mode: ModeSimple, CACertificates: caFile, SNI: "other.example.org"}, "certificate is valid for api.example.com, not other.example.org"},
		{"subjectAltNames accept a URI SAN instead of the hostname", serve(spiffe), true,
			Config{Mode: ModeSimple, CACertificates: caFile, SubjectAltNames: []string{"spiffe://partner.example/ns/pay/sa/api"}}, "200 HTTP/2.0 -"},
		{"subjectAltNames match a wildcard DNS SAN", serve(wildcard), true,
			Config{Mode: ModeSimple, CACertificates: caFile, SNI: "api.example.com", SubjectAltNames: []string{"api.example.com"}}, "200 HTTP/2.0 -"},
		{"no subjectAltName matches", serve(api), true,
			Config{Mode: ModeSimple, CACertificates: caFile, SubjectAltNames: []string{"spiffe://nope", "db.example.com"}}, "no subjectAltName matches [spiffe://nope db.example.com] (certificate has [api.example.com])"},
		{"subjectAltNames do not skip chain verification", serve(foreign), true,
			Config{Mode: ModeSimple, CACertificates: caFile, SubjectAltNames: []string{"api.example.com"}}, "certificate signed by unknown authority"},
		{"MUTUAL presents the client certificate", requireClient, true,
			Config{Mode: ModeMutual, CACertificates: caFile, ClientCertificate: clientCert, PrivateKey: clientKey}, "200 HTTP/2.0 spiffe://mesh.local/ns/egress/sa/gateway"},
		{"SIMPLE to an upstream that requires a client certificate", requireClient, false,
			Config{Mode: ModeSimple, CACertificates: caFile}, "server rejected the handshake: certificate required"},
		{"InsecureSkipVerify only when explicitly set", serve(foreign), true,
			Config{Mode: ModeSimple, InsecureSkipVerify: true}, "200 HTTP/2.0 -"},
		{"DISABLE is plain HTTP", nil, false,
			Config{Mode: ModeDisable}, "200 HTTP/1.1 -"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := startUpstream(t, tt.server, tt.h2)
			p := NewPool(PoolOptions{DialContext: dialTo(u.srv.Listener.Addr().String(), nil)})
			got, err := get(p, tt.cfg)
			if err != nil {
				got = Describe(err)
				t.Logf("error: %v", err)
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDescribeConnectionFailures(t *testing.T) {
	ca := newCA(t, "upstream CA")
	cfg := Config{Mode: ModeSimple, CACertificates: ca.caFile(t)}

	t.Run("handshake timeout", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() { // accept and never answer
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		p := NewPool(PoolOptions{DialContext: dialTo(ln.Addr().String(), nil), TLSHandshakeTimeout: 200 * time.Millisecond})
		_, err = get(p, cfg)
		if got := Describe(err); got != "handshake timeout" {
			t.Errorf("Describe(%v) = %q", err, got)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		_, err := get(NewPool(PoolOptions{DialContext: dialTo(addr, nil)}), cfg)
		if got := Describe(err); got != "connection refused" {
			t.Errorf("Describe(%v) = %q", err, got)
		}
	})
	t.Run("plain HTTP server where TLS was expected", func(t *testing.T) {
		u := startUpstream(t, nil, false)
		_, err := get(NewPool(PoolOptions{DialContext: dialTo(u.srv.Listener.Addr().String(), nil)}), cfg)
		if got := Describe(err); got != "server did not answer with TLS" {
			t.Errorf("Describe(%v) = %q", err, got)
		}
	})
	t.Run("nil", func(t *testing.T) {
		if Describe(nil) != "" {
			t.Error("Describe(nil) should be empty")
		}
	})
}

func TestClientTLSRejectsBadConfig(t *testing.T) {
	ca := newCA(t, "CA")
	notPEM := ca.dir + "/not.pem"
	writePEM(t, notPEM, "CERTIFICATE", nil, 0o644)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown mode", Config{Mode: "ISTIO_MUTUAL"}, `mode "ISTIO_MUTUAL"`},
		{"empty mode", Config{}, `mode ""`},
		{"MUTUAL without a client certificate", Config{Mode: ModeMutual}, "needs clientCertificate and privateKey"},
		{"MUTUAL with missing files", Config{Mode: ModeMutual, ClientCertificate: "/nonexistent.pem", PrivateKey: "/nonexistent-key.pem"}, "client certificate /nonexistent.pem"},
		{"missing CA file", Config{Mode: ModeSimple, CACertificates: "/nonexistent-ca.pem"}, "caCertificates"},
		{"CA file without a certificate", Config{Mode: ModeSimple, CACertificates: notPEM}, "no PEM certificate found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := ClientTLS(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ClientTLS = %v, %v; want error containing %q", tc, err, tt.want)
			}
		})
	}
	t.Run("verification is on unless asked otherwise", func(t *testing.T) {
		tc, err := ClientTLS(Config{Mode: ModeSimple, SNI: "a.example"})
		if err != nil || tc.InsecureSkipVerify || tc.RootCAs != nil || tc.ServerName != "a.example" || tc.MinVersion != tls.VersionTLS12 {
			t.Errorf("got %+v, %v", tc, err)
		}
	})
	t.Run("DISABLE has no TLS config", func(t *testing.T) {
		if tc, err := ClientTLS(Config{Mode: ModeDisable}); tc != nil || err != nil {
			t.Errorf("got %v, %v", tc, err)
		}
	})
}

func TestPoolReusesConnections(t *testing.T) {
	ca := newCA(t, "upstream CA")
	cfg := Config{Mode: ModeSimple, CACertificates: ca.caFile(t)}
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1 keep-alive", true: "HTTP/2"}[h2], func(t *testing.T) {
			u := startUpstream(t, &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, leafOpts{dns: []string{"api.example.com"}})}}, h2)
			var dials atomic.Int64
			p := NewPool(PoolOptions{DialContext: dialTo(u.srv.Listener.Addr().String(), &dials)})
			for i := range 10 {
				if got, err := get(p, cfg); err != nil || !strings.HasPrefix(got, "200") {
					t.Fatalf("request %d: %q, %v", i, got, err)
				}
			}
			if n := u.newConns.Load(); n != 1 {
				t.Errorf("server saw %d new connections for 10 sequential requests, want 1", n)
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("pool dialled %d times, want 1 (through the injected dialer)", n)
			}
		})
	}
	t.Run("same key shares a transport, a different config does not", func(t *testing.T) {
		p := NewPool(PoolOptions{})
		t1, _ := p.Transport("API.example.com", 443, cfg)
		t2, _ := p.Transport("api.example.com", 443, cfg)
		t3, _ := p.Transport("api.example.com", 443, Config{Mode: ModeSimple, CACertificates: cfg.CACertificates, SubjectAltNames: []string{"x"}})
		t4, _ := p.Transport("api.example.com", 8443, cfg)
		if t1 != t2 || t1 == t3 || t1 == t4 || p.Len() != 3 {
			t.Errorf("sharing wrong: t1==t2 %v, t1==t3 %v, t1==t4 %v, len %d", t1 == t2, t1 == t3, t1 == t4, p.Len())
		}
		if t1.Proxy != nil {
			t.Error("transport would honour HTTP_PROXY from the environment")
		}
		p.Reset()
		if p.Len() != 0 {
			t.Error("Reset kept transports")
		}
	})
}

func TestSNIIsSentWithSubjectAltNames(t *testing.T) {
	ca := newCA(t, "upstream CA")
	cert := ca.leaf(t, leafOpts{uris: []string{"spiffe://partner.example/api"}})
	var sni atomic.Value
	u := startUpstream(t, &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		sni.Store(h.ServerName)
		return &cert, nil
	}}, true)
	p := NewPool(PoolOptions{DialContext: dialTo(u.srv.Listener.Addr().String(), nil)})
	got, err := get(p, Config{Mode: ModeSimple, CACertificates: ca.caFile(t), SubjectAltNames: []string{"spiffe://partner.example/api"}})
	if err != nil || !strings.HasPrefix(got, "200") {
		t.Fatalf("got %q, %v", got, err)
	}
	if sni.Load() != "api.example.com" {
		t.Errorf("server saw SNI %q, want the host", sni.Load())
	}
}
