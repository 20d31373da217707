package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/identity"
)

// IssueFiles issues an SVID for id with a fresh key, for a workload that cannot run a sidecar, and
// writes svid.pem, key.pem (0600) and bundle.pem into dir (egret ca issue).
func (c *CA) IssueFiles(id spiffeid.ID, ttl time.Duration, dir string) (*SVID, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{id.URL()}}, key)
	if err != nil {
		return nil, err
	}
	svid, err := c.SignCSR(csr, id, ttl)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := identity.WriteSVIDFiles(dir, svid.PEM(), keyPEM, c.BundlePEM()); err != nil {
		return nil, err
	}
	return svid, nil
}
