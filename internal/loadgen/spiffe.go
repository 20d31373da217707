package loadgen

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
)

// A mesh server (the gateway) proves who it is with an SVID: a certificate whose only name is a SPIFFE
// ID in a URI SAN, with no DNS name or IP address. Go's host name check cannot accept such a certificate,
// so it is verified here instead: the chain against the given roots, then the SPIFFE ID.

// ParseSPIFFEID checks that id is a SPIFFE ID (spiffe://trust-domain/path) and returns it parsed.
func ParseSPIFFEID(id string) (*url.URL, error) {
	u, err := url.Parse(id)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a SPIFFE ID: %w", id, err)
	case u.Scheme != "spiffe":
		return nil, fmt.Errorf("%q is not a SPIFFE ID: scheme must be spiffe", id)
	case u.Host == "" || u.User != nil || u.Port() != "":
		return nil, fmt.Errorf("%q is not a SPIFFE ID: it needs a trust domain and nothing else before the path", id)
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return nil, fmt.Errorf("%q is not a SPIFFE ID: no query or fragment allowed", id)
	}
	return u, nil
}

// VerifySPIFFEServer returns a tls.Config.VerifyConnection function that accepts a server only if its
// chain verifies against roots for server authentication and its leaf carries exactly one URI SAN,
// equal to want. It is meant for a config with InsecureSkipVerify set, which turns off only Go's own
// chain and host name check; this function puts the chain check back.
func VerifySPIFFEServer(roots *x509.CertPool, want *url.URL) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("loadgen: server presented no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return fmt.Errorf("loadgen: server certificate: %w", err)
		}
		if len(leaf.URIs) != 1 {
			return fmt.Errorf("loadgen: server certificate has %d URI SANs, want one SPIFFE ID", len(leaf.URIs))
		}
		if got := leaf.URIs[0].String(); got != want.String() {
			return fmt.Errorf("loadgen: server SPIFFE ID is %s, want %s", got, want)
		}
		return nil
	}
}
