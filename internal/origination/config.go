// Package origination builds verified client TLS towards external hosts, names failed checks in plain words, and pools upstream HTTP transports.
package origination

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Mode is the TLS origination mode, with Istio's ClientTLSSettings names.
type Mode string

// Modes.
const (
	ModeDisable Mode = "DISABLE" // plain TCP/HTTP to the upstream
	ModeSimple  Mode = "SIMPLE"  // TLS, server verified
	ModeMutual  Mode = "MUTUAL"  // TLS, server verified, client certificate presented
)

// Config is one upstream's origination settings (ExternalService
// clientsideTls). An empty CACertificates means the system roots: there is
// no way to turn verification off except InsecureSkipVerify set to true.
type Config struct {
	Mode               Mode
	SNI                string   // server name sent and, without SubjectAltNames, checked
	CACertificates     string   // PEM file; empty = system roots
	ClientCertificate  string   // PEM file, MUTUAL only
	PrivateKey         string   // PEM file, MUTUAL only
	SubjectAltNames    []string // when set, replaces the hostname check: one must be in the certificate
	InsecureSkipVerify bool
}

// ClientTLS returns the client TLS configuration for cfg, or nil for
// ModeDisable. When cfg.SNI is empty the caller should set ServerName to
// the host it dials (Pool does); without SubjectAltNames the handshake
// fails otherwise, since there is no name to verify.
func ClientTLS(cfg Config) (*tls.Config, error) {
	switch cfg.Mode {
	case ModeDisable:
		return nil, nil
	case ModeSimple, ModeMutual:
	default:
		return nil, fmt.Errorf("origination: mode %q: must be SIMPLE, MUTUAL or DISABLE", cfg.Mode)
	}
	tc := &tls.Config{ServerName: cfg.SNI, MinVersion: tls.VersionTLS12}

	if cfg.Mode == ModeMutual {
		if cfg.ClientCertificate == "" || cfg.PrivateKey == "" {
			return nil, errors.New("origination: MUTUAL needs clientCertificate and privateKey")
		}
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertificate, cfg.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("origination: client certificate %s: %w", cfg.ClientCertificate, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}

	if cfg.InsecureSkipVerify {
		tc.InsecureSkipVerify = true
		return tc, nil
	}
	if cfg.CACertificates != "" {
		pem, err := os.ReadFile(cfg.CACertificates)
		if err != nil {
			return nil, fmt.Errorf("origination: caCertificates: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("origination: caCertificates %s: no PEM certificate found", cfg.CACertificates)
		}
		tc.RootCAs = pool
	}
	if len(cfg.SubjectAltNames) > 0 {
		// crypto/tls can only check the chain together with ServerName, so
		// its check is switched off and replaced by the same chain
		// verification plus a SAN match in VerifyConnection, which runs on
		// every handshake including resumed ones.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = verifySANs(tc.RootCAs, cfg.SubjectAltNames)
	}
	return tc, nil
}

func verifySANs(roots *x509.CertPool, want []string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("origination: server sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		for _, name := range want {
			if matchSAN(leaf, name) {
				return nil
			}
		}
		return &SANMismatchError{Want: want, Got: certSANs(leaf)}
	}
}

// matchSAN accepts a URI SAN equal to name, or a DNS/IP SAN that covers
// name by the usual rules (wildcards in the certificate included).
func matchSAN(cert *x509.Certificate, name string) bool {
	for _, u := range cert.URIs {
		if u.String() == name {
			return true
		}
	}
	if strings.Contains(name, "://") {
		return false
	}
	return cert.VerifyHostname(name) == nil
}

func certSANs(cert *x509.Certificate) []string {
	var out []string
	out = append(out, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		out = append(out, ip.String())
	}
	for _, u := range cert.URIs {
		out = append(out, u.String())
	}
	return out
}

// SANMismatchError is returned when the server certificate carries none of
// the configured subjectAltNames.
type SANMismatchError struct {
	Want []string // configured
	Got  []string // in the certificate
}

func (e *SANMismatchError) Error() string {
	return fmt.Sprintf("no subjectAltName matches %v (certificate has %v)", e.Want, e.Got)
}
