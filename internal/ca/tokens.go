package ca

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca/enrollproto"
)

// DefaultTokenTTL is how long a join token stays redeemable unless the operator says otherwise.
const DefaultTokenTTL = time.Hour

// TokenStore keeps join tokens as one file per token under the data dir, holding only the
// SHA-256 of the secret. One file per token makes redemption atomic across processes (the
// `egret token create` CLI and a running CA share the directory): the winner is whoever renames
// the file away first.
type TokenStore struct {
	dir      string
	clock    Clock
	rootHash string
}

type tokenRecord struct {
	SecretSHA256 string    `json:"secret_sha256"`
	SPIFFEID     string    `json:"spiffe_id"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// TokenError explains why a token was refused. Reason is for the CA's log; callers get only
// enrollproto.CodeTokenRejected so they cannot probe which tokens exist.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return "join token rejected: " + e.Reason }

func tokenDir(dataDir string) string { return filepath.Join(dataDir, "tokens") }

func (s *TokenStore) init() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("ca: tokens: %w", err)
	}
	return os.Chmod(s.dir, 0o700)
}

// Create stores a new token bound to id and returns it; the secret exists only in the return value.
func (s *TokenStore) Create(id spiffeid.ID, ttl time.Duration) (enrollproto.Token, error) {
	if id.IsZero() {
		return enrollproto.Token{}, errors.New("ca: a join token needs a SPIFFE ID")
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	tok, err := enrollproto.NewToken(s.rootHash)
	if err != nil {
		return enrollproto.Token{}, err
	}
	sum := tok.Secret.Hash()
	now := s.clock.Now()
	rec := tokenRecord{
		SecretSHA256: hex.EncodeToString(sum[:]),
		SPIFFEID:     id.String(),
		CreatedAt:    now.UTC(),
		ExpiresAt:    now.Add(ttl).UTC(),
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return enrollproto.Token{}, err
	}
	if err := WriteFileExclusive(s.path(tok.ID), data, 0o600); err != nil {
		return enrollproto.Token{}, err
	}
	return tok, nil
}

func (s *TokenStore) path(id string) string { return filepath.Join(s.dir, id+".json") }

// Redeem checks a token and consumes it, returning the identity it is bound to. A token can be
// redeemed once: of two concurrent redeemers exactly one wins.
func (s *TokenStore) Redeem(tok enrollproto.Token) (spiffeid.ID, error) {
	if tok.RootHash != s.rootHash {
		return spiffeid.ID{}, &TokenError{Reason: "pinned root hash is not this CA's root"}
	}
	p := s.path(tok.ID)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return spiffeid.ID{}, &TokenError{Reason: "unknown or already used"}
	}
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("ca: tokens: %w", err)
	}
	var rec tokenRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return spiffeid.ID{}, fmt.Errorf("ca: tokens: %s: %w", p, err)
	}
	want, err := hex.DecodeString(rec.SecretSHA256)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("ca: tokens: %s: bad hash", p)
	}
	got := tok.Secret.Hash()
	if subtle.ConstantTimeCompare(want, got[:]) != 1 {
		return spiffeid.ID{}, &TokenError{Reason: "wrong secret"}
	}
	id, err := spiffeid.FromString(rec.SPIFFEID)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("ca: tokens: %s: %w", p, err)
	}
	// Claim before judging expiry so an expired token is also removed; the rename is the
	// single atomic step that decides who used the token.
	claimed := p + ".claimed-" + randomSuffix()
	if err := os.Rename(p, claimed); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return spiffeid.ID{}, &TokenError{Reason: "unknown or already used"}
		}
		return spiffeid.ID{}, fmt.Errorf("ca: tokens: %w", err)
	}
	_ = os.Remove(claimed)
	if !s.clock.Now().Before(rec.ExpiresAt) {
		return spiffeid.ID{}, &TokenError{Reason: "expired at " + rec.ExpiresAt.Format(time.RFC3339)}
	}
	return id, nil
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Dir is where the token files live.
func (s *TokenStore) Dir() string { return s.dir }
