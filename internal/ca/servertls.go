package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca/enrollproto"
)

// ServerTLSParams describes the enrollment server's own certificate.
type ServerTLSParams struct {
	TrustDomain spiffeid.TrustDomain // the control plane's cluster; its ID is spiffe://<td>/egret/controlplane
	Hosts       []string             // DNS names or IPs the server is reached at, for non-SPIFFE clients
}

// ServerTLSConfig returns the TLS config for the control plane port: the server certificate is
// issued by this CA and renewed at half life, and client certificates are verified against the
// root when given but not required, so a proxy holding only a join token can still connect.
func (c *CA) ServerTLSConfig(p ServerTLSParams) (*tls.Config, error) {
	if p.TrustDomain.IsZero() {
		return nil, errors.New("ca: server TLS needs a trust domain")
	}
	id, err := spiffeid.FromPath(p.TrustDomain, enrollproto.ControlPlanePath)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	var dns []string
	var ips []net.IP
	for _, h := range p.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h != "" {
			dns = append(dns, h)
		}
	}
	sc := &serverCert{ca: c, id: id, key: key, dns: dns, ips: ips}
	if _, err := sc.get(); err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.root)
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return sc.get() },
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      roots,
		Time:           c.clock.Now,
	}, nil
}

// serverCert caches the server certificate and reissues it once half its life has passed.
type serverCert struct {
	ca  *CA
	id  spiffeid.ID
	key *ecdsa.PrivateKey
	dns []string
	ips []net.IP

	mu   sync.Mutex
	cert *tls.Certificate
}

func (s *serverCert) get() (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.ca.clock.Now()
	if s.cert != nil {
		leaf := s.cert.Leaf
		if now.Before(leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)) {
			return s.cert, nil
		}
	}
	leaf, err := s.ca.issue(&s.key.PublicKey, s.id, 0, s.dns, s.ips, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
	if err != nil {
		if s.cert != nil && now.Before(s.cert.Leaf.NotAfter) {
			s.ca.log.Error("server certificate renewal failed; keeping the current one", "err", err)
			return s.cert, nil
		}
		return nil, err
	}
	s.ca.log.Info("server certificate issued", "spiffe_id", s.id.String(), "not_after", leaf.NotAfter)
	// The root travels in the chain so a proxy bootstrapping from a token can match its pin.
	s.cert = &tls.Certificate{Certificate: [][]byte{leaf.Raw, s.ca.root.Raw}, PrivateKey: s.key, Leaf: leaf}
	return s.cert, nil
}
