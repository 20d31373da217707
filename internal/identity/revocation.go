package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"egret.dev/egret/internal/ca/enrollproto"
)

// DefaultBundleRefresh is how often a ClientSource asks the CA for its revocation list between renewals.
const DefaultBundleRefresh = time.Minute

// RevocationSource is a Source that knows the CA's revocation list; the TLS configs of this package
// refuse a peer whose certificate it lists.
type RevocationSource interface {
	Revoked(cert *x509.Certificate) bool
}

// PeerRevoked returns src's revocation check, or nil when src carries no revocation list (files, SPIRE).
func PeerRevoked(src Source) func(*x509.Certificate) bool {
	if rs, ok := src.(RevocationSource); ok {
		return rs.Revoked
	}
	return nil
}

// revocationSet is the revocation list as a proxy holds it.
type revocationSet struct {
	ids, serials map[string]bool
}

func newRevocationSet(r enrollproto.Revocations) revocationSet {
	s := revocationSet{ids: map[string]bool{}, serials: map[string]bool{}}
	for _, id := range r.RevokedIDs {
		s.ids[id] = true
	}
	for _, sn := range r.RevokedSerials {
		s.serials[sn] = true
	}
	return s
}

func (s revocationSet) revoked(cert *x509.Certificate) bool {
	if s.serials[cert.SerialNumber.Text(16)] {
		return true
	}
	id, err := x509svid.IDFromCert(cert)
	return err == nil && s.ids[id.String()]
}

// Revoked reports whether the CA's newest revocation list names cert or its identity.
func (s *ClientSource) Revoked(cert *x509.Certificate) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.revoked.revoked(cert)
}

// checkRevoked refuses a peer leaf that src's revocation list names.
func checkRevoked(src Source, leaf *x509.Certificate) error {
	if rs, ok := src.(RevocationSource); ok && rs.Revoked(leaf) {
		id, _ := x509svid.IDFromCert(leaf)
		return fmt.Errorf("identity: peer %s (serial %s) is revoked", id, leaf.SerialNumber.Text(16))
	}
	return nil
}

// refreshBundle fetches the revocation list with the current SVID.
func (s *ClientSource) refreshBundle(ctx context.Context) error {
	cur, _ := s.GetX509SVID()
	s.mu.RLock()
	roots := s.roots
	s.mu.RUnlock()
	tlsConf := s.controlPlaneTLS(func([]*x509.Certificate) []*x509.Certificate { return roots }, cur)
	var b enrollproto.BundleResponse
	err := s.tryEach(ctx, func(addr string) error { return s.fetchBundle(ctx, addr, tlsConf, &b) })
	if err != nil {
		return err
	}
	set := newRevocationSet(b.Revocations)
	s.mu.Lock()
	changed := len(set.ids) != len(s.revoked.ids) || len(set.serials) != len(s.revoked.serials)
	s.revoked = set
	s.mu.Unlock()
	if changed {
		s.log.Info("revocation list updated", "revoked_ids", len(set.ids), "revoked_serials", len(set.serials))
	}
	return nil
}

// refreshLoop keeps the revocation list fresh until ctx ends. A failed fetch keeps the last list.
func (s *ClientSource) refreshLoop(ctx context.Context) {
	every := s.p.BundleRefresh
	if every < 0 {
		return
	}
	if every == 0 {
		every = DefaultBundleRefresh
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.p.Clock.After(every):
		}
		if err := s.refreshBundle(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("revocation list refresh failed; keeping the last one", "err", err)
		}
	}
}

// fetchBundle gets the bundle and revocation list from the control plane at addr.
func (s *ClientSource) fetchBundle(ctx context.Context, addr string, tlsConf *tls.Config, b *enrollproto.BundleResponse) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+enrollproto.PathBundle, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("identity: bundle from %s: %w", addr, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("identity: bundle from %s: HTTP %d", addr, resp.StatusCode)
	}
	if err := json.Unmarshal(data, b); err != nil {
		return fmt.Errorf("identity: bundle from %s: %w", addr, err)
	}
	return nil
}
