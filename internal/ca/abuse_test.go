package ca_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/ca/enrollproto"
)

// startServerWith is startServer with CA params of the test's choosing.
func startServerWith(t *testing.T, tune func(*ca.Params)) *testServer {
	t.Helper()
	clk := newFakeClock()
	logs := &syncBuffer{}
	p := ca.Params{DataDir: t.TempDir(), Clock: clk, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	tune(&p)
	c, err := ca.New(p)
	if err != nil {
		t.Fatal(err)
	}
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

// clientFrom is s.client whose connections leave from the loopback address src (another "host").
func (s *testServer) clientFrom(src string, cert *tls.Certificate) *http.Client {
	cl := s.client(s.ca.Root(), cert)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	cl.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return cl
}

// A client trying bad join tokens in a burst is answered 429 once its address's budget is spent, its
// refusals are not logged one per try, and another address still enrolls.
func TestABurstOfBadTokensIsRateLimitedPerSource(t *testing.T) {
	s := startServerWith(t, func(p *ca.Params) {
		p.EnrollLimit = ca.RateLimit{Burst: 10, PerSecond: 1, LogEvery: time.Minute}
	})
	attacker := s.clientFrom("127.0.0.1", nil)
	bad, err := enrollproto.NewToken(s.ca.RootHash())
	if err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for range 200 {
		code, _, errResp, err := s.post(t, attacker, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: bad.Encode(), CSRPEM: string(makeCSR(t, newKey(t), csrSpec{}))})
		if err != nil {
			t.Fatal(err)
		}
		codes[code]++
		if code == http.StatusTooManyRequests && errResp.Code != enrollproto.CodeRateLimited {
			t.Fatalf("429 with code %q", errResp.Code)
		}
	}
	if codes[http.StatusUnauthorized] != 10 || codes[http.StatusTooManyRequests] != 190 {
		t.Fatalf("answers %v, want 10 refusals of the token and then 190 × 429", codes)
	}

	// The attacker's budget does not touch another address.
	other := s.clientFrom("127.0.0.2", nil)
	tok, _ := s.ca.Tokens().Create(idA, time.Hour)
	if code, _, errResp, err := s.post(t, other, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: tok.Encode(), CSRPEM: string(makeCSR(t, newKey(t), csrSpec{}))}); err != nil || code != http.StatusOK {
		t.Fatalf("another source enrolling: %d %+v %v", code, errResp, err)
	}

	// A 429 carries Retry-After, and the budget refills with time.
	req, _ := http.NewRequest(http.MethodPost, s.url+enrollproto.PathEnroll, strings.NewReader(`{}`))
	resp, err := attacker.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.clk.Advance(5 * time.Second)
	tok2, _ := s.ca.Tokens().Create(idB, time.Hour)
	if code, _, errResp, _ := s.post(t, attacker, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: tok2.Encode(), CSRPEM: string(makeCSR(t, newKey(t), csrSpec{}))}); code != http.StatusOK {
		t.Fatalf("after the budget refilled: %d %+v", code, errResp)
	}

	// 201 refusals in the first window: one line, then one summary once the window is over.
	logs := s.logs.String()
	if n := strings.Count(logs, "enroll refused") + strings.Count(logs, "rate limited"); n != 1 {
		t.Errorf("%d refusal lines for one source in one window, want 1:\n%s", n, logs)
	}
	s.clk.Advance(time.Minute)
	s.post(t, other, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: bad.Encode(), CSRPEM: string(makeCSR(t, newKey(t), csrSpec{}))})
	logs = s.logs.String()
	if !strings.Contains(logs, "enrollment refusals not logged one by one") || !strings.Contains(logs, "refusals=200") {
		t.Errorf("no summary of the left-out refusals:\n%s", logs)
	}
}

// A revoked identity gets no new certificate, whether it renews with its current one or redeems a
// fresh join token; a certificate revoked by serial cannot renew either, while the identity's other
// certificates can; and the revocation list travels with the bundle.
func TestARevokedIdentityCannotRenewOrEnroll(t *testing.T) {
	s := startServerWith(t, func(*ca.Params) {})
	certA, _ := s.enroll(t, idA)
	certB1, _ := s.enroll(t, idB)
	certB2, _ := s.enroll(t, idB)
	renew := func(cert *tls.Certificate, id spiffeid.ID) (int, enrollproto.ErrorResponse) {
		code, _, bad, err := s.post(t, s.client(s.ca.Root(), cert), enrollproto.PathRenew, enrollproto.RenewRequest{CSRPEM: string(makeCSR(t, newKey(t), csrSpec{uris: []string{id.String()}}))})
		if err != nil {
			t.Fatal(err)
		}
		return code, bad
	}

	if err := s.ca.Revoke(ca.Revocation{SPIFFEID: idA.String(), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ca.Revoke(ca.Revocation{Serial: certB1.Leaf.SerialNumber.Text(16)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cert     *tls.Certificate
		id       spiffeid.ID
		wantCode int
	}{
		{"renewal by a revoked identity", certA, idA, http.StatusForbidden},
		{"renewal with a certificate revoked by serial", certB1, idB, http.StatusForbidden},
		{"renewal with another certificate of that identity", certB2, idB, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, bad := renew(tc.cert, tc.id)
			if code != tc.wantCode || code != http.StatusOK && bad.Code != enrollproto.CodeRevoked {
				t.Fatalf("got %d %+v, want %d", code, bad, tc.wantCode)
			}
		})
	}
	t.Run("a fresh join token for a revoked identity", func(t *testing.T) {
		tok, _ := s.ca.Tokens().Create(idA, time.Hour)
		code, _, bad, _ := s.post(t, s.client(s.ca.Root(), nil), enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: tok.Encode(), CSRPEM: string(makeCSR(t, newKey(t), csrSpec{}))})
		if code != http.StatusForbidden || bad.Code != enrollproto.CodeRevoked {
			t.Fatalf("got %d %+v, want 403 revoked", code, bad)
		}
	})
	t.Run("the bundle carries the revocation list", func(t *testing.T) {
		resp, err := s.client(s.ca.Root(), certB2).Get(s.url + enrollproto.PathBundle)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b enrollproto.BundleResponse
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		if len(b.RevokedIDs) != 1 || b.RevokedIDs[0] != idA.String() || len(b.RevokedSerials) != 1 || b.RevokedSerials[0] != certB1.Leaf.SerialNumber.Text(16) || !strings.Contains(b.BundlePEM, "BEGIN CERTIFICATE") {
			t.Fatalf("bundle response %+v", b)
		}
	})
	t.Run("the bundle is not served without a client certificate", func(t *testing.T) {
		resp, err := s.client(s.ca.Root(), nil).Get(s.url + enrollproto.PathBundle)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", resp.StatusCode)
		}
	})
	t.Run("the list is kept in the data dir, mode 0600", func(t *testing.T) {
		var found string
		filepath.WalkDir(filepath.Dir(s.ca.Tokens().Dir()), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "revocations.json" {
				found = p
			}
			return nil
		})
		fi, err := os.Stat(found)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", fi.Mode().Perm())
		}
	})
	t.Run("a revocation written by another process is seen", func(t *testing.T) {
		other, err := ca.New(ca.Params{DataDir: filepath.Dir(s.ca.Tokens().Dir()), Clock: s.clk})
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Revoke(ca.Revocation{SPIFFEID: idB.String()}); err != nil {
			t.Fatal(err)
		}
		if code, _ := renew(certB2, idB); code != http.StatusForbidden {
			t.Fatalf("got %d, want 403 after the other process revoked the identity", code)
		}
	})
}

// An identity the control plane no longer configures (its Workload was deleted) cannot renew.
func TestAnIdentityNoLongerConfiguredCannotRenew(t *testing.T) {
	var removed atomic.Bool
	s := startServerWith(t, func(p *ca.Params) {
		p.IdentityAllowed = func(id spiffeid.ID) bool { return id == idB || id == idA && !removed.Load() }
	})
	certA, _ := s.enroll(t, idA)
	renew := func() (int, enrollproto.ErrorResponse) {
		code, _, bad, err := s.post(t, s.client(s.ca.Root(), certA), enrollproto.PathRenew, enrollproto.RenewRequest{CSRPEM: string(makeCSR(t, newKey(t), csrSpec{uris: []string{idA.String()}}))})
		if err != nil {
			t.Fatal(err)
		}
		return code, bad
	}
	if code, bad := renew(); code != http.StatusOK {
		t.Fatalf("configured identity: %d %+v", code, bad)
	}
	removed.Store(true)
	if code, bad := renew(); code != http.StatusForbidden || bad.Code != enrollproto.CodeNotConfigured {
		t.Fatalf("removed identity: %d %+v, want 403 not_configured", code, bad)
	}
}
