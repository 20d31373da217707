package identity

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// FileSource is a fixed SVID and bundle read from PEM files, such as the output of
// `egret ca issue`. It does not rotate; it suits tests and workloads that cannot run a sidecar.
type FileSource struct {
	svid  *x509svid.SVID
	roots rootsBundle
}

// LoadFileSource reads the SVID chain, its private key and the bundle.
func LoadFileSource(certFile, keyFile, bundleFile string) (*FileSource, error) {
	svid, err := x509svid.Load(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	data, err := os.ReadFile(bundleFile)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	b, err := x509bundle.Parse(svid.ID.TrustDomain(), data)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", bundleFile, err)
	}
	return &FileSource{svid: svid, roots: rootsBundle(b.X509Authorities())}, nil
}

// GetX509SVID returns the loaded SVID.
func (f *FileSource) GetX509SVID() (*x509svid.SVID, error) { return f.svid, nil }

// GetX509BundleForTrustDomain returns the loaded roots for any trust domain.
func (f *FileSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return f.roots.GetX509BundleForTrustDomain(td)
}

// Roots returns the loaded trust anchors.
func (f *FileSource) Roots() []*x509.Certificate { return f.roots }
