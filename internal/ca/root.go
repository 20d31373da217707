package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const (
	rootKeyFile  = "root.key"
	rootCertFile = "root.crt"
)

// loadOrCreateRoot returns the root in dir, creating it when neither file exists yet. Two processes
// starting on one new data dir (a control plane and `egret token create`, say) may race to create it:
// the files are written exclusively, so one wins, and the other loads what the winner wrote.
func loadOrCreateRoot(dir string, now time.Time, ttl time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, bool, error) {
	keyPath := filepath.Join(dir, rootKeyFile)
	certPath := filepath.Join(dir, rootCertFile)
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		// The certificate first: the key is written before it, so a certificate seen here means its key
		// is there too, while the other order could see the key missing, then a certificate written meanwhile.
		_, cerr := os.Stat(certPath)
		_, kerr := os.Stat(keyPath)
		switch {
		case errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist):
			cert, key, cerr := createRoot(dir, keyPath, certPath, now, ttl)
			if !errors.Is(cerr, fs.ErrExist) {
				return cert, key, true, cerr
			}
			err = cerr // another process is creating it
		case kerr == nil && errors.Is(cerr, fs.ErrNotExist):
			err = fmt.Errorf("ca: root key %s has no certificate %s beside it", keyPath, certPath) // being written?
		case kerr != nil:
			return nil, nil, false, fmt.Errorf("ca: root key %s: %w", keyPath, kerr)
		case cerr != nil:
			return nil, nil, false, fmt.Errorf("ca: root certificate %s: %w", certPath, cerr)
		default:
			cert, key, err := loadRoot(keyPath, certPath)
			return cert, key, false, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, nil, false, err
}

// CheckKeyFileMode refuses a private key file that group or others can read or write: a root key
// anyone on the host can read lets them mint any identity.
func CheckKeyFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("ca: key file %s has mode %04o and is readable by group or others; refusing to start (fix with: chmod 600 %s)", path, perm, path)
	}
	return nil
}

func loadRoot(keyPath, certPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if err := CheckKeyFileMode(keyPath); err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, nil, fmt.Errorf("ca: %s: no PEM \"PRIVATE KEY\" block", keyPath)
	}
	anyKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %s: %w", keyPath, err)
	}
	key, ok := anyKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("ca: %s: root key is %T, want ECDSA", keyPath, anyKey)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	block, _ = pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("ca: %s: no PEM \"CERTIFICATE\" block", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %s: %w", certPath, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("ca: %s does not match the key in %s", certPath, keyPath)
	}
	return cert, key, nil
}

func createRoot(dir, keyPath, certPath string, now time.Time, ttl time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"egret"}, CommonName: "egret root CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true, // the root signs leaves only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	// The key goes first and exclusively: a half-written root is detected as "cert missing" on the next start.
	if err := WriteFileExclusive(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := WriteFileExclusive(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// WriteFileExclusive creates path with mode perm (not widened by umask) and fails if it exists.
func WriteFileExclusive(path string, data []byte, perm os.FileMode) error {
	// Write a temporary file, then link it into place: the link fails if path exists, and a reader
	// never sees a half-written file.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("ca: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("ca: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ca: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	return nil
}
