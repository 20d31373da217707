package ca

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// revocationsFile holds the CA's revocation list in the data dir, mode 0600. `egret ca revoke` writes
// it; a running CA rereads it when it changes, and proxies get it with the bundle.
const revocationsFile = "revocations.json"

// Revocation is one entry of the revocation list: a whole identity (every certificate naming it, and
// no new one) or one certificate by serial number (lowercase hex, as the CA logs it).
type Revocation struct {
	SPIFFEID  string    `json:"spiffe_id,omitempty"`
	Serial    string    `json:"serial,omitempty"`
	RevokedAt time.Time `json:"revoked_at"`
	Reason    string    `json:"reason,omitempty"`
}

type revocationList struct {
	Revocations []Revocation `json:"revocations"`
}

// revocations caches the list, rereading the file when its size or modification time changes.
type revocations struct {
	path string

	mu     sync.Mutex
	loaded bool
	stamp  string
	list   []Revocation
	err    error
}

func (r *revocations) load() ([]Revocation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(r.path)
	stamp := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("ca: revocation list: %w", err)
	default:
		stamp = fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
	}
	if r.loaded && stamp == r.stamp {
		return r.list, r.err
	}
	r.loaded, r.stamp = true, stamp
	r.list, r.err = readRevocations(r.path)
	return r.list, r.err
}

func readRevocations(path string) ([]Revocation, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ca: revocation list: %w", err)
	}
	var l revocationList
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("ca: revocation list %s: %w", path, err)
	}
	return l.Revocations, nil
}

// Revoke adds rev to the revocation list (an entry already there is not added twice). Exactly one of
// SPIFFEID and Serial must be set.
func (c *CA) Revoke(rev Revocation) error {
	if (rev.SPIFFEID == "") == (rev.Serial == "") {
		return errors.New("ca: revoke needs exactly one of an identity and a serial number")
	}
	if rev.SPIFFEID != "" {
		id, err := spiffeid.FromString(rev.SPIFFEID)
		if err != nil {
			return fmt.Errorf("ca: revoke: %w", err)
		}
		rev.SPIFFEID = id.String()
	}
	if rev.Serial != "" {
		rev.Serial = normalizeSerial(rev.Serial)
		if rev.Serial == "" {
			return errors.New("ca: revoke: the serial number must be hexadecimal")
		}
	}
	if rev.RevokedAt.IsZero() {
		rev.RevokedAt = c.clock.Now().UTC()
	}
	list, err := readRevocations(c.revoked.path)
	if err != nil {
		return err
	}
	for _, r := range list {
		if r.SPIFFEID == rev.SPIFFEID && r.Serial == rev.Serial {
			return nil
		}
	}
	list = append(list, rev)
	data, err := json.MarshalIndent(revocationList{Revocations: list}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(c.revoked.path, append(data, '\n'), 0o600); err != nil {
		return err
	}
	c.log.Warn("revoked", "spiffe_id", rev.SPIFFEID, "serial", rev.Serial, "reason", rev.Reason)
	return nil
}

// Revocations is the current revocation list.
func (c *CA) Revocations() ([]Revocation, error) { return c.revoked.load() }

// splitRevocations splits the list as it travels to proxies.
func splitRevocations(list []Revocation) (ids, serials []string) {
	for _, r := range list {
		if r.SPIFFEID != "" {
			ids = append(ids, r.SPIFFEID)
		}
		if r.Serial != "" {
			serials = append(serials, r.Serial)
		}
	}
	slices.Sort(ids)
	slices.Sort(serials)
	return ids, serials
}

// RevokedCert reports whether cert, or its identity, is on the list.
func RevokedCert(list []Revocation, cert *x509.Certificate) bool {
	serial := cert.SerialNumber.Text(16)
	id, idErr := x509svid.IDFromCert(cert)
	for _, r := range list {
		if r.Serial != "" && r.Serial == serial {
			return true
		}
		if r.SPIFFEID != "" && idErr == nil && r.SPIFFEID == id.String() {
			return true
		}
	}
	return false
}

// identityRevoked reports whether id is revoked as a whole.
func identityRevoked(list []Revocation, id spiffeid.ID) bool {
	for _, r := range list {
		if r.SPIFFEID == id.String() {
			return true
		}
	}
	return false
}

func normalizeSerial(s string) string {
	s = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(strings.ReplaceAll(s, ":", ""), "0x"), "0X"))
	s = strings.TrimLeft(s, "0")
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	return s
}

// writeFileAtomic replaces path with data, mode perm, so a reader sees the old or the new list.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	defer os.Remove(f.Name())
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
	return os.Rename(f.Name(), path)
}
