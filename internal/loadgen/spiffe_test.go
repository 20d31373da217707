package loadgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseSPIFFEID(t *testing.T) {
	tests := []struct {
		name, id, wantErr string
	}{
		{"a workload ID", "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway", ""},
		{"an https URL", "https://cluster1/ns/x", "scheme must be spiffe"},
		{"no trust domain", "spiffe:///ns/x", "needs a trust domain"},
		{"a port", "spiffe://cluster1:8443/ns/x", "needs a trust domain"},
		{"a query", "spiffe://cluster1/ns/x?a=b", "no query or fragment"},
		{"not a URL", "spiffe://%zz", "is not a SPIFFE ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseSPIFFEID(tc.id)
			if tc.wantErr == "" {
				if err != nil || u.String() != tc.id {
					t.Fatalf("ParseSPIFFEID(%q) = %v, %v", tc.id, u, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseSPIFFEID(%q) error %v, want %q", tc.id, err, tc.wantErr)
			}
		})
	}
}

// TestVerifySPIFFEServer does real TLS handshakes on loopback against servers holding SVID-shaped
// certificates (a URI SAN and no host name) and checks which the client accepts.
func TestVerifySPIFFEServer(t *testing.T) {
	const gw = "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"
	meshCA, meshKey := newTestCA(t, "mesh CA")
	otherCA, otherKey := newTestCA(t, "other CA")
	roots := x509.NewCertPool()
	roots.AddCert(meshCA)
	serverAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}

	tests := []struct {
		name    string
		server  tls.Certificate
		want    string
		wantErr string
	}{
		{"the expected SVID", newTestSVID(t, meshCA, meshKey, serverAuth, gw), gw, ""},
		{"another workload's SVID", newTestSVID(t, meshCA, meshKey, serverAuth, "spiffe://cluster1/ns/bookinfo/sa/reviews"), gw, "server SPIFFE ID is spiffe://cluster1/ns/bookinfo/sa/reviews"},
		{"the right ID from another CA", newTestSVID(t, otherCA, otherKey, serverAuth, gw), gw, "certificate signed by unknown authority"},
		{"a client-only certificate", newTestSVID(t, meshCA, meshKey, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, gw), gw, "incompatible key usage"},
		{"no URI SAN", newTestSVID(t, meshCA, meshKey, serverAuth), gw, "has 0 URI SANs"},
		{"two URI SANs", newTestSVID(t, meshCA, meshKey, serverAuth, gw, "spiffe://cluster1/ns/x/sa/y"), gw, "has 2 URI SANs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveTLS(t, tc.server)
			want, err := ParseSPIFFEID(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := tls.Dial("tcp", addr, &tls.Config{
				MinVersion:         tls.VersionTLS12,
				InsecureSkipVerify: true,
				VerifyConnection:   VerifySPIFFEServer(roots, want),
			})
			if err == nil {
				conn.Close()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("handshake failed: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("handshake error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// serveTLS accepts connections on loopback and completes their handshakes until the test ends.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

func newTestCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

// newTestSVID issues a leaf whose only names are the given URIs, like a SPIFFE X.509-SVID.
func newTestSVID(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, eku []x509.ExtKeyUsage, ids ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var uris []*url.URL
	for _, id := range ids {
		u, err := url.Parse(id)
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, u)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku, URIs: uris,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
