package ca_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"egret.dev/egret/internal/ca"
)

var (
	idA = spiffeid.RequireFromString("spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage")
	idB = spiffeid.RequireFromString("spiffe://cluster1/ns/bookinfo/sa/reviews")
	idC = spiffeid.RequireFromString("spiffe://cluster2/ns/gloo-mesh-gateways/sa/istio-egressgateway")
)

func TestIssuanceRules(t *testing.T) {
	tests := []struct {
		name    string
		rootTTL time.Duration
		advance time.Duration
		ttl     time.Duration
		id      spiffeid.ID
		want    func(c *ca.CA, now time.Time) time.Time // expected NotAfter
	}{
		{name: "default ttl is 24 hours", id: idA, want: func(_ *ca.CA, now time.Time) time.Time { return now.Add(24 * time.Hour) }},
		{name: "explicit ttl is honoured", id: idA, ttl: time.Hour, want: func(_ *ca.CA, now time.Time) time.Time { return now.Add(time.Hour) }},
		{name: "another trust domain is signed by the same root", id: idC, want: func(_ *ca.CA, now time.Time) time.Time { return now.Add(24 * time.Hour) }},
		{
			name: "expiry never goes past the root", id: idA, rootTTL: 48 * time.Hour, advance: 40 * time.Hour,
			want: func(c *ca.CA, _ time.Time) time.Time { return c.Root().NotAfter },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			c, err := ca.New(ca.Params{DataDir: t.TempDir(), Clock: clk, RootTTL: tc.rootTTL})
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(tc.advance)
			key := newKey(t)
			svid, err := c.SignCSR(makeCSR(t, key, csrSpec{uris: []string{tc.id.String()}}), tc.id, tc.ttl)
			if err != nil {
				t.Fatalf("SignCSR: %v", err)
			}
			cert := svid.Certificate
			if want := tc.want(c, clk.Now()); !cert.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %s, want %s", cert.NotAfter, want)
			}
			if cert.NotAfter.After(c.Root().NotAfter) {
				t.Errorf("NotAfter %s is past the root's %s", cert.NotAfter, c.Root().NotAfter)
			}
			if len(cert.URIs) != 1 || cert.URIs[0].String() != tc.id.String() {
				t.Errorf("URIs = %v, want exactly %s", cert.URIs, tc.id)
			}
			if cert.IsCA || len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.EmailAddresses) != 0 {
				t.Errorf("leaf is CA=%v or has extra SANs", cert.IsCA)
			}
			if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 || cert.KeyUsage&x509.KeyUsageCertSign != 0 {
				t.Errorf("KeyUsage = %b", cert.KeyUsage)
			}
			if !hasEKU(cert, x509.ExtKeyUsageClientAuth) || !hasEKU(cert, x509.ExtKeyUsageServerAuth) {
				t.Errorf("ExtKeyUsage = %v, want client and server auth", cert.ExtKeyUsage)
			}
			bundle := x509bundle.FromX509Authorities(tc.id.TrustDomain(), []*x509.Certificate{c.Root()})
			got, _, err := x509svid.Verify([]*x509.Certificate{cert}, bundle, x509svid.WithTime(clk.Now()))
			if err != nil || got != tc.id {
				t.Errorf("x509svid.Verify = %v, %v; want %s", got, err, tc.id)
			}
		})
	}
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range c.ExtKeyUsage {
		if u == want {
			return true
		}
	}
	return false
}

func TestCSRAttacksAreRefused(t *testing.T) {
	c := newCA(t, t.TempDir(), newFakeClock(), nil)
	key := newKey(t)
	tampered := func() []byte {
		p := makeCSR(t, key, csrSpec{uris: []string{idA.String()}})
		block, _ := pem.Decode(p)
		block.Bytes[len(block.Bytes)-5] ^= 0xff // corrupt the signature
		return pem.EncodeToMemory(block)
	}()
	tests := []struct {
		name string
		csr  []byte
		want string
	}{
		{"a CSR for another identity", makeCSR(t, key, csrSpec{uris: []string{idB.String()}}), "may only request"},
		{"a CSR with a second URI SAN", makeCSR(t, key, csrSpec{uris: []string{idA.String(), idB.String()}}), "exactly one URI SAN"},
		{"a CSR with a DNS SAN", makeCSR(t, key, csrSpec{uris: []string{idA.String()}, dns: []string{"evil.example.com"}}), "DNS SANs"},
		{"a CSR with an IP SAN", makeCSR(t, key, csrSpec{uris: []string{idA.String()}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}}), "IP SANs"},
		{"a CSR with an email SAN", makeCSR(t, key, csrSpec{emails: []string{"a@example.com"}}), "email SANs"},
		{"a CSR asking to be a CA", makeCSR(t, key, csrSpec{uris: []string{idA.String()}, isCA: true}), "CA"},
		{"a CSR whose URI is not a SPIFFE ID", makeCSR(t, key, csrSpec{uris: []string{"https://example.com/x"}}), "not a SPIFFE ID"},
		{"a CSR with a bad signature", tampered, "signature"},
		{"garbage instead of a CSR", []byte("hello"), "cannot parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svid, err := c.SignCSR(tc.csr, idA, 0)
			var ce *ca.CSRError
			if !errors.As(err, &ce) {
				t.Fatalf("SignCSR = %v, %v; want a CSRError", svid, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestCSRWithoutURIGetsTheBoundIdentity(t *testing.T) {
	c := newCA(t, t.TempDir(), newFakeClock(), nil)
	svid, err := c.SignCSR(makeCSR(t, newKey(t), csrSpec{}), idA, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(svid.Certificate.URIs) != 1 || svid.Certificate.URIs[0].String() != idA.String() {
		t.Fatalf("URIs = %v", svid.Certificate.URIs)
	}
}

func TestRootKeyReadableByOthersIsRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			newCA(t, dir, newFakeClock(), nil)
			keyPath := filepath.Join(dir, "root.key")
			if err := os.Chmod(keyPath, mode); err != nil {
				t.Fatal(err)
			}
			_, err := ca.New(ca.Params{DataDir: dir})
			if err == nil {
				t.Fatal("CA started with a group/other-readable key")
			}
			for _, want := range []string{keyPath, "chmod 600", "readable by group or others"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestRootKeyIsWrittenPrivate(t *testing.T) {
	dir := t.TempDir()
	newCA(t, dir, newFakeClock(), nil)
	fi, err := os.Stat(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("root.key mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestRestartKeepsRootAndOldCertificatesVerify(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	first := newCA(t, dir, clk, nil)
	old, err := first.SignCSR(makeCSR(t, newKey(t), csrSpec{}), idA, 0)
	if err != nil {
		t.Fatal(err)
	}
	second := newCA(t, dir, clk, nil)
	if !second.Root().Equal(first.Root()) {
		t.Fatal("restart produced a different root")
	}
	bundle, err := x509bundle.Parse(idA.TrustDomain(), second.BundlePEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify([]*x509.Certificate{old.Certificate}, bundle, x509svid.WithTime(clk.Now())); err != nil {
		t.Fatalf("certificate issued before restart does not verify: %v", err)
	}
}

func TestConcurrentStartsShareOneRoot(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	roots := make(chan []byte, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			c, err := ca.New(ca.Params{DataDir: dir})
			if err != nil {
				errs <- err
				return
			}
			roots <- c.Root().Raw
		}()
	}
	var first []byte
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			t.Fatalf("a concurrent start failed: %v", err)
		case r := <-roots:
			if first == nil {
				first = r
			} else if !bytes.Equal(first, r) {
				t.Fatal("two starts on one data dir ended with different roots")
			}
		}
	}
}
