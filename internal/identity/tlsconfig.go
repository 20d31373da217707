package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Authorizer decides whether a verified peer may connect; go-spiffe's tlsconfig.AuthorizeID,
// AuthorizeMemberOf and friends fit.
type Authorizer = tlsconfig.Authorizer

// ErrUnverified is returned by PeerID for a connection whose peer chain crypto/tls did not verify.
var ErrUnverified = errors.New("identity: peer certificate was not verified")

// PeerID returns the SPIFFE ID of the peer of a connection accepted with ServerTLSConfig. It
// reads only chains crypto/tls verified, never a merely presented certificate. (Client
// connections check the server's ID in their Authorizer instead; Go leaves VerifiedChains
// empty there because SPIFFE IDs are not host names.)
func PeerID(cs tls.ConnectionState) (spiffeid.ID, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return spiffeid.ID{}, ErrUnverified
	}
	return x509svid.IDFromCert(cs.VerifiedChains[0][0])
}

// ServerTLSConfig requires and verifies a client SVID against src's bundle for the client's trust
// domain and asks authz; the server presents src's newest SVID on every handshake.
func ServerTLSConfig(src Source, authz Authorizer, clk Clock) *tls.Config {
	if clk == nil {
		clk = SystemClock
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	// The config for a handshake is built once per SVID and bundle and reused until either changes:
	// building it (a certificate, a pool of the roots) on every handshake cost more than the handshake's
	// own allocations.
	var mu sync.Mutex
	var last struct {
		svid  *x509svid.SVID
		roots []*x509.Certificate
		conf  *tls.Config
	}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		svid, err := src.GetX509SVID()
		if err != nil {
			return nil, fmt.Errorf("identity: no SVID: %w", err)
		}
		bundle, err := src.GetX509BundleForTrustDomain(svid.ID.TrustDomain())
		if err != nil {
			return nil, fmt.Errorf("identity: bundle: %w", err)
		}
		roots := bundle.X509Authorities()
		mu.Lock()
		defer mu.Unlock()
		if last.conf != nil && last.svid == svid && sameCerts(last.roots, roots) {
			return last.conf, nil
		}
		cert := certificateOf(svid)
		pool := x509.NewCertPool()
		for _, c := range roots {
			pool.AddCert(c)
		}
		conf := &tls.Config{
			MinVersion:   tls.VersionTLS12,
			NextProtos:   base.NextProtos, // http.Server adds h2 to the outer config
			Certificates: []tls.Certificate{*cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			Time:         clk.Now,
			VerifyConnection: func(cs tls.ConnectionState) error {
				id, err := PeerID(cs)
				if err != nil {
					return err
				}
				// Bind the root to the peer's own trust domain, as SPIFFE requires.
				chain := cs.VerifiedChains[0]
				peerBundle, err := src.GetX509BundleForTrustDomain(id.TrustDomain())
				if err != nil || !peerBundle.HasX509Authority(chain[len(chain)-1]) {
					return fmt.Errorf("identity: %s is not signed by a root of its trust domain", id)
				}
				if err := checkRevoked(src, chain[0]); err != nil {
					return err
				}
				return authz(id, cs.VerifiedChains)
			},
		}
		last.svid, last.roots, last.conf = svid, roots, conf
		return conf, nil
	}
	return base
}

// sameCerts reports whether a and b hold the same certificates in the same order.
func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// ClientTLSConfig presents src's newest SVID and accepts a server only if its SVID verifies
// against src's bundle and authz approves its SPIFFE ID. Host names are not checked: the
// server's SPIFFE ID is its name.
func ClientTLSConfig(src Source, authz Authorizer, clk Clock) *tls.Config {
	if clk == nil {
		clk = SystemClock
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Go's built-in check compares DNS names; VerifyConnection below does the SPIFFE check instead.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, _, err := tlsCertificate(src)
			return cert, err
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, chains, err := x509svid.Verify(cs.PeerCertificates, src, x509svid.WithTime(clk.Now()))
			if err != nil {
				return fmt.Errorf("identity: server: %w", err)
			}
			if err := checkRevoked(src, chains[0][0]); err != nil {
				return err
			}
			return authz(id, chains)
		},
	}
}

func tlsCertificate(src Source) (*tls.Certificate, *x509svid.SVID, error) {
	svid, err := src.GetX509SVID()
	if err != nil {
		return nil, nil, fmt.Errorf("identity: no SVID: %w", err)
	}
	return certificateOf(svid), svid, nil
}

func certificateOf(svid *x509svid.SVID) *tls.Certificate {
	cert := &tls.Certificate{PrivateKey: svid.PrivateKey, Leaf: svid.Certificates[0]}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert
}
