package enrollproto

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// TokenPrefix versions the join token format so a later format can be told apart.
const TokenPrefix = "egret1"

// Secret is the part of a join token that proves possession; it prints as [redacted] so it
// cannot leak through fmt or slog by accident.
type Secret string

func (Secret) String() string                 { return "[redacted]" }
func (Secret) GoString() string               { return "[redacted]" }
func (Secret) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret itself; only the token's encoder and the hash need it.
func (s Secret) Reveal() string { return string(s) }

// Hash is the SHA-256 of the secret, the only form the CA stores. The secret is 32 random
// bytes, so a fast hash is enough: there is nothing to brute-force.
func (s Secret) Hash() [32]byte { return sha256.Sum256([]byte(s)) }

// Token is a decoded join token: egret1.<id>.<secret>.<root-sha256-hex>.
//
// ID names the stored record; Secret proves possession; RootHash is the hex SHA-256 of the
// root certificate's DER, which lets a proxy that has nothing but the token and an address
// pin the CA before it sends the secret (as kubeadm's discovery-token-ca-cert-hash does).
type Token struct {
	ID       string
	Secret   Secret
	RootHash string
}

// String prints the token without its secret, so a Token is safe to log.
func (t Token) String() string { return TokenPrefix + "." + t.ID + ".[redacted]." + t.RootHash }

// LogValue keeps the secret out of structured logs.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Encode returns the full token, secret included, for printing to the operator once.
func (t Token) Encode() string {
	return TokenPrefix + "." + t.ID + "." + string(t.Secret) + "." + t.RootHash
}

// NewToken makes a fresh random token pinned to the root with the given DER hash.
func NewToken(rootHash string) (Token, error) {
	id := make([]byte, 8)
	sec := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return Token{}, err
	}
	if _, err := rand.Read(sec); err != nil {
		return Token{}, err
	}
	return Token{
		ID:       hex.EncodeToString(id),
		Secret:   Secret(base64.RawURLEncoding.EncodeToString(sec)),
		RootHash: rootHash,
	}, nil
}

// RootHash returns the pin for a root certificate: the hex SHA-256 of its DER.
func RootHash(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ErrMalformedToken is returned for any string that is not a well-formed egret join token;
// the message never repeats the input, which may hold a secret.
var ErrMalformedToken = errors.New("malformed join token: want egret1.<id>.<secret>.<sha256 of root>")

// ParseToken decodes a join token. It checks shape only; whether the token is valid is the CA's call.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 4 || parts[0] != TokenPrefix {
		return Token{}, ErrMalformedToken
	}
	t := Token{ID: parts[1], Secret: Secret(parts[2]), RootHash: parts[3]}
	if len(t.ID) != 16 || !isHex(t.ID) {
		return Token{}, fmt.Errorf("%w (bad id)", ErrMalformedToken)
	}
	if sec, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil || len(sec) != 32 {
		return Token{}, fmt.Errorf("%w (bad secret)", ErrMalformedToken)
	}
	if len(t.RootHash) != 64 || !isHex(t.RootHash) {
		return Token{}, fmt.Errorf("%w (bad root hash)", ErrMalformedToken)
	}
	return t, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
