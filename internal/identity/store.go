package identity

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// File names used by SaveSVID, the ClientSource's DataDir and `egret ca issue`.
const (
	SVIDFile   = "svid.pem"
	KeyFile    = "key.pem"
	BundleFile = "bundle.pem"
)

// resume loads a saved, still valid SVID from DataDir; renewal then proceeds as usual.
func (s *ClientSource) resume() bool {
	if s.p.DataDir == "" {
		return false
	}
	src, err := LoadFileSource(filepath.Join(s.p.DataDir, SVIDFile), filepath.Join(s.p.DataDir, KeyFile), filepath.Join(s.p.DataDir, BundleFile))
	if err != nil {
		return false
	}
	leaf := src.svid.Certificates[0]
	if !s.p.Clock.Now().Before(leaf.NotAfter) {
		s.log.Info("saved SVID expired; enrolling with the token", "expired_at", leaf.NotAfter)
		return false
	}
	s.svid, s.roots = src.svid, src.roots
	s.log.Info("resumed saved SVID", "spiffe_id", src.svid.ID.String(), "expires_at", leaf.NotAfter)
	return true
}

func saveSVID(dir string, svid *x509svid.SVID, roots []*x509.Certificate) error {
	certPEM, keyPEM, err := svid.Marshal()
	if err != nil {
		return err
	}
	var bundle bytes.Buffer
	for _, r := range roots {
		_ = pem.Encode(&bundle, &pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})
	}
	return WriteSVIDFiles(dir, certPEM, keyPEM, bundle.Bytes())
}

// WriteSVIDFiles writes svid.pem, key.pem (0600) and bundle.pem into dir, each atomically.
func WriteSVIDFiles(dir string, certPEM, keyPEM, bundlePEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{KeyFile, keyPEM, 0o600}, {SVIDFile, certPEM, 0o644}, {BundleFile, bundlePEM, 0o644}} {
		if err := writeAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("identity: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("identity: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}
