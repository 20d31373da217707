package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"egret.dev/egret/internal/ca/enrollproto"
)

// Params configures a ClientSource.
type Params struct {
	// Address is host:port of the control plane's TLS port (15012), or several, comma-separated, of
	// control planes sharing one data dir: enrollment, renewal and the bundle try each in turn.
	Address string
	Token   string       // join token from `egret token create`; used once
	Clock   Clock        // nil means the wall clock
	Logger  *slog.Logger // nil means discard
	// DataDir, when set, keeps the SVID, key (0600) and bundle so a restarted proxy renews with
	// its current SVID instead of needing a new token.
	DataDir string
	// BundleRefresh is how often the CA's revocation list is fetched between renewals (default
	// DefaultBundleRefresh; negative: only at renewal); a revoked peer is refused from the next fetch on.
	BundleRefresh time.Duration
}

// ClientSource holds an SVID obtained from egret's CA and renews it at half life.
type ClientSource struct {
	p   Params
	log *slog.Logger

	mu      sync.RWMutex
	svid    *x509svid.SVID
	roots   rootsBundle
	revoked revocationSet

	good atomic.Int32 // index of the control-plane address that answered last

	cancel  context.CancelFunc
	done    chan struct{}
	stopped chan struct{} // the revocation list refresher has returned
}

// NewClientSource enrolls with the join token (or resumes from DataDir), then keeps the SVID
// fresh in the background until Close or ctx's end.
func NewClientSource(ctx context.Context, p Params) (*ClientSource, error) {
	if p.Clock == nil {
		p.Clock = SystemClock
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	s := &ClientSource{p: p, log: p.Logger.With("component", "identity"), done: make(chan struct{}), stopped: make(chan struct{})}
	if !s.resume() {
		if err := s.enroll(ctx); err != nil {
			return nil, err
		}
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go s.rotate(ctx)
	go func() {
		defer close(s.stopped)
		s.refreshLoop(ctx)
	}()
	return s, nil
}

// Close stops rotation and the revocation list refresher.
func (s *ClientSource) Close() error {
	s.cancel()
	<-s.done
	<-s.stopped
	return nil
}

// GetX509SVID returns the newest SVID.
func (s *ClientSource) GetX509SVID() (*x509svid.SVID, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.svid, nil
}

// GetX509BundleForTrustDomain returns the CA's roots for any trust domain: one root signs all.
func (s *ClientSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.roots.GetX509BundleForTrustDomain(td)
}

// ID is the identity this source holds.
func (s *ClientSource) ID() spiffeid.ID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.svid.ID
}

func (s *ClientSource) enroll(ctx context.Context) error {
	tok, err := enrollproto.ParseToken(s.p.Token)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	key, csr, err := newCSR(nil)
	if err != nil {
		return err
	}
	tlsConf := s.controlPlaneTLS(func(chain []*x509.Certificate) []*x509.Certificate {
		// Bootstrap: trust only a root in the presented chain whose hash matches the token's pin.
		for _, c := range chain {
			if c.IsCA && enrollproto.RootHash(c.Raw) == tok.RootHash {
				return []*x509.Certificate{c}
			}
		}
		return nil
	}, nil)
	resp, err := s.call(ctx, tlsConf, enrollproto.PathEnroll, enrollproto.EnrollRequest{Token: tok.Encode(), CSRPEM: string(csr)})
	if err != nil {
		return fmt.Errorf("identity: enroll at %s: %w", s.p.Address, err)
	}
	if err := s.accept(resp, key, tok.RootHash); err != nil {
		return err
	}
	s.log.Info("enrolled", "spiffe_id", resp.SPIFFEID, "expires_at", resp.ExpiresAt)
	return nil
}

// renew trades the current SVID for a new one for the same identity.
func (s *ClientSource) renew(ctx context.Context) error {
	cur, _ := s.GetX509SVID()
	key, csr, err := newCSR(&cur.ID)
	if err != nil {
		return err
	}
	s.mu.RLock()
	roots := s.roots
	s.mu.RUnlock()
	tlsConf := s.controlPlaneTLS(func([]*x509.Certificate) []*x509.Certificate { return roots }, cur)
	resp, err := s.call(ctx, tlsConf, enrollproto.PathRenew, enrollproto.RenewRequest{CSRPEM: string(csr)})
	if err != nil {
		return fmt.Errorf("identity: renew at %s: %w", s.p.Address, err)
	}
	if resp.SPIFFEID != cur.ID.String() {
		return fmt.Errorf("identity: renew returned %s, want %s", resp.SPIFFEID, cur.ID)
	}
	if err := s.accept(resp, key, ""); err != nil {
		return err
	}
	s.log.Info("svid renewed", "spiffe_id", resp.SPIFFEID, "expires_at", resp.ExpiresAt)
	return nil
}

// controlPlaneTLS accepts a server whose certificate chains to trusted(chain) and carries the
// control plane's SPIFFE ID; it presents client when given.
func (s *ClientSource) controlPlaneTLS(trusted func([]*x509.Certificate) []*x509.Certificate, client *x509svid.SVID) *tls.Config {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyConnection: the server is named by its SPIFFE ID and the pinned root
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			roots := trusted(cs.PeerCertificates)
			if len(roots) == 0 {
				return errors.New("server's chain does not contain the root pinned by the join token")
			}
			pool := x509.NewCertPool()
			for _, r := range roots {
				pool.AddCert(r)
			}
			leaf := cs.PeerCertificates[0]
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: s.p.Clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			id, err := x509svid.IDFromCert(leaf)
			if err != nil || id.Path() != enrollproto.ControlPlanePath {
				return fmt.Errorf("server is not an egret control plane (SPIFFE ID %v)", id)
			}
			return nil
		},
	}
	if client != nil {
		cert := &tls.Certificate{PrivateKey: client.PrivateKey, Leaf: client.Certificates[0]}
		for _, c := range client.Certificates {
			cert.Certificate = append(cert.Certificate, c.Raw)
		}
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

func (s *ClientSource) call(ctx context.Context, tlsConf *tls.Config, path string, body any) (*enrollproto.SVIDResponse, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	var out *enrollproto.SVIDResponse
	err = s.tryEach(ctx, func(addr string) error {
		out, err = s.callAt(ctx, addr, tlsConf, path, raw)
		return err
	})
	return out, err
}

// tryEach calls f with each control-plane address, starting with the one that answered last, until one
// answers: a refusal (RefusedError) is an answer, and every control plane on the data dir would give
// it, so only an unreachable or failing one moves on to the next. The error is the last one's.
func (s *ClientSource) tryEach(ctx context.Context, f func(addr string) error) error {
	addrs := splitAddresses(s.p.Address)
	if len(addrs) == 0 {
		return errors.New("no control-plane address")
	}
	start := int(s.good.Load()) % len(addrs)
	var err error
	for i := range addrs {
		at := (start + i) % len(addrs)
		err = f(addrs[at])
		var refused *RefusedError
		if err == nil || errors.As(err, &refused) {
			s.good.Store(int32(at))
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		if len(addrs) > 1 {
			s.log.Warn("control plane unreachable; trying the next", "control_plane", addrs[at], "err", err)
		}
	}
	return err
}

// splitAddresses splits a comma-separated list of addresses, dropping empty entries and spaces.
func splitAddresses(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func (s *ClientSource) callAt(ctx context.Context, addr string, tlsConf *tls.Config, path string, raw []byte) (*enrollproto.SVIDResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true, ForceAttemptHTTP2: false}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, enrollproto.MaxBodyBytes))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e enrollproto.ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Code != "" {
			return nil, &RefusedError{Status: resp.StatusCode, Code: e.Code, Message: e.Message}
		}
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var out enrollproto.SVIDResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("bad response: %w", err)
	}
	return &out, nil
}

// RefusedError is the CA's refusal, with its error code.
type RefusedError struct {
	Status  int
	Code    string
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused (HTTP %d, %s): %s", e.Status, e.Code, e.Message)
}

// accept checks a response (bundle contains the pin when given, SVID verifies against the
// bundle and matches key) and installs it.
func (s *ClientSource) accept(resp *enrollproto.SVIDResponse, key *ecdsa.PrivateKey, pin string) error {
	roots, err := parseCerts([]byte(resp.BundlePEM))
	if err != nil || len(roots) == 0 {
		return fmt.Errorf("identity: bad bundle in response: %v", err)
	}
	if pin != "" {
		found := false
		for _, r := range roots {
			found = found || enrollproto.RootHash(r.Raw) == pin
		}
		if !found {
			return errors.New("identity: bundle does not contain the root pinned by the join token")
		}
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certs, err := parseCerts([]byte(resp.SVIDPEM))
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("identity: bad SVID in response: %v", err)
	}
	var certDER []byte
	for _, c := range certs {
		certDER = append(certDER, c.Raw...)
	}
	svid, err := x509svid.ParseRaw(certDER, keyDER)
	if err != nil {
		return fmt.Errorf("identity: SVID in response: %w", err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, rootsBundle(roots), x509svid.WithTime(s.p.Clock.Now())); err != nil {
		return fmt.Errorf("identity: SVID in response does not verify: %w", err)
	}
	s.mu.Lock()
	s.svid, s.roots, s.revoked = svid, roots, newRevocationSet(resp.Revocations)
	s.mu.Unlock()
	if s.p.DataDir != "" {
		if err := saveSVID(s.p.DataDir, svid, roots); err != nil {
			s.log.Error("could not save SVID", "dir", s.p.DataDir, "err", err)
		}
	}
	return nil
}

func newCSR(id *spiffeid.ID) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.CertificateRequest{}
	if id != nil {
		tmpl.URIs = append(tmpl.URIs, id.URL())
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
