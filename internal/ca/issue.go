package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// CSRError is a refusal caused by the request itself; its text is safe to return to the caller.
type CSRError struct {
	Reason   string
	Mismatch bool // the request names an identity other than the one the caller may have
}

func (e *CSRError) Error() string { return "csr rejected: " + e.Reason }

func csrErr(format string, args ...any) error { return &CSRError{Reason: fmt.Sprintf(format, args...)} }

// SVID is an issued X.509 SVID. The root is not part of Certificates; it is the bundle.
type SVID struct {
	ID          spiffeid.ID
	Certificate *x509.Certificate
}

// PEM encodes the leaf certificate.
func (s *SVID) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate.Raw})
}

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// ParseCSR decodes a PEM or DER certificate request and checks its signature.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, csrErr("PEM block is %q, want \"CERTIFICATE REQUEST\"", block.Type)
		}
		der = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, csrErr("cannot parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, csrErr("bad signature: %v", err)
	}
	return csr, nil
}

// CheckCSR applies egret's rules to a request for identity id: at most one URI SAN and only id;
// no DNS, IP or email SANs; no request to be a CA; an acceptable public key.
func CheckCSR(csr *x509.CertificateRequest, id spiffeid.ID) error {
	switch {
	case len(csr.DNSNames) > 0:
		return csrErr("DNS SANs are not allowed in an SVID (got %d)", len(csr.DNSNames))
	case len(csr.IPAddresses) > 0:
		return csrErr("IP SANs are not allowed in an SVID (got %d)", len(csr.IPAddresses))
	case len(csr.EmailAddresses) > 0:
		return csrErr("email SANs are not allowed in an SVID (got %d)", len(csr.EmailAddresses))
	case len(csr.URIs) > 1:
		return csrErr("an SVID has exactly one URI SAN; the request has %d", len(csr.URIs))
	}
	if len(csr.URIs) == 1 {
		asked, err := spiffeid.FromURI(csr.URIs[0])
		if err != nil {
			return csrErr("URI SAN is not a SPIFFE ID: %v", err)
		}
		if asked != id {
			return &CSRError{Reason: fmt.Sprintf("requests %s but may only request %s", asked, id), Mismatch: true}
		}
	}
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidBasicConstraints) {
			continue
		}
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		if _, err := asn1.Unmarshal(ext.Value, &bc); err != nil {
			return csrErr("unreadable basic constraints extension")
		}
		if bc.IsCA {
			return csrErr("requests to be a CA")
		}
	}
	return checkPublicKey(csr.PublicKey)
}

func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return csrErr("ECDSA key on %s; want P-256 or P-384", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return csrErr("RSA key of %d bits; want at least 2048", k.N.BitLen())
		}
	default:
		return csrErr("unsupported public key type %T", pub)
	}
	return nil
}

// SignCSR checks a PEM or DER CSR against the rules for id and issues an SVID for id valid for
// ttl (0 means the CA's default), never past the root's expiry.
func (c *CA) SignCSR(csrData []byte, id spiffeid.ID, ttl time.Duration) (*SVID, error) {
	if id.IsZero() {
		return nil, errors.New("ca: empty SPIFFE ID")
	}
	csr, err := ParseCSR(csrData)
	if err != nil {
		return nil, err
	}
	if err := CheckCSR(csr, id); err != nil {
		return nil, err
	}
	cert, err := c.issue(csr.PublicKey, id, ttl, nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})
	if err != nil {
		return nil, err
	}
	c.log.Info("svid issued", "spiffe_id", id.String(), "serial", cert.SerialNumber.Text(16), "not_after", cert.NotAfter)
	return &SVID{ID: id, Certificate: cert}, nil
}

// issue signs a leaf for pub. SVIDs get both client and server auth; the control plane's own
// server certificate gets server auth only, so it can never be replayed as a client identity.
func (c *CA) issue(pub crypto.PublicKey, id spiffeid.ID, ttl time.Duration, dns []string, ips []net.IP, eku []x509.ExtKeyUsage) (*x509.Certificate, error) {
	if ttl <= 0 {
		ttl = c.svidTTL
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	now := c.clock.Now()
	if !now.Before(c.root.NotAfter) {
		return nil, fmt.Errorf("ca: root expired at %s", c.root.NotAfter.UTC().Format(time.RFC3339))
	}
	// Backdate a little for clock skew between the CA and its peers, but not so much that a
	// short-lived SVID's half-life falls into the past.
	backdate := min(10*time.Second, ttl/10)
	notBefore := now.Add(-backdate)
	if notBefore.Before(c.root.NotBefore) {
		notBefore = c.root.NotBefore
	}
	notAfter := now.Add(ttl)
	if notAfter.After(c.root.NotAfter) {
		notAfter = c.root.NotAfter
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"egret"}},
		URIs:                  []*url.URL{id.URL()},
		DNSNames:              dns,
		IPAddresses:           ips,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.root, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("ca: sign: %w", err)
	}
	return x509.ParseCertificate(der)
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("ca: serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
