package ca

import (
	"bytes"
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

// revocations caches the list, parsing the file again when its contents change. The contents, not the
// size and modification time, decide: another control plane on the same data dir may replace the file
// twice within the file system's timestamp granularity with a list of the same size, and a stale list
// here would let a just-revoked identity renew. The file is small; reading it per check is cheap.
type revocations struct {
	path string

	mu     sync.Mutex
	loaded bool
	raw    []byte
	list   []Revocation
	err    error
}

func (r *revocations) load() ([]Revocation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := os.ReadFile(r.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return nil, fmt.Errorf("ca: revocation list: %w", err)
	}
	if r.loaded && bytes.Equal(data, r.raw) {
		return r.list, r.err
	}
	r.loaded, r.raw = true, data
	r.list, r.err = parseRevocations(r.path, data)
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
	return parseRevocations(path, data)
}

func parseRevocations(path string, data []byte) ([]Revocation, error) {
	if data == nil {
		return nil, nil
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
	// Read, add and replace under the data dir's lock: another control plane or `egret ca revoke`
	// on the same data dir may be adding an entry at the same time, and neither may be lost.
	unlock, err := lockFile(c.revoked.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
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
