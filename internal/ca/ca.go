// Package ca is egret's built-in SPIFFE certificate authority: one root that signs X.509 SVIDs
// for every trust domain, join tokens that bootstrap a workload, and the enrollment endpoint.
package ca

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca/enrollproto"
)

// Clock is the CA's source of time; tests pass a fake one.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock is the wall clock.
var SystemClock Clock = systemClock{}

// DefaultSVIDTTL is how long an SVID lives unless Params says otherwise.
const DefaultSVIDTTL = 24 * time.Hour

// Params configures a CA.
type Params struct {
	DataDir string        // holds the root key and certificate and the join tokens
	Clock   Clock         // nil means the wall clock
	Logger  *slog.Logger  // nil means discard
	SVIDTTL time.Duration // 0 means DefaultSVIDTTL
	RootTTL time.Duration // lifetime of a newly created root; 0 means 10 years
	// EnrollLimit bounds enrollment and renewal calls per source address.
	EnrollLimit RateLimit
	// IdentityAllowed, when set, is asked before a renewal: an identity no longer configured (the
	// control plane answers from its current plan) gets no new certificate. Nil allows every identity.
	IdentityAllowed func(spiffeid.ID) bool
}

// CA issues SVIDs under one root.
type CA struct {
	clock Clock
	log   *slog.Logger
	// enrollLog is the enrollment endpoint's logger (component ca-enroll).
	enrollLog *slog.Logger
	svidTTL   time.Duration
	root      *x509.Certificate
	key       *ecdsa.PrivateKey
	tokens    *TokenStore
	limit     *limiter
	revoked   *revocations
	allowed   func(spiffeid.ID) bool
}

// New loads the CA from p.DataDir, creating the root on first start. It refuses to start when
// the root key file is readable by group or others.
func New(p Params) (*CA, error) {
	if p.DataDir == "" {
		return nil, errors.New("ca: a data directory is required")
	}
	if p.Clock == nil {
		p.Clock = SystemClock
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.SVIDTTL <= 0 {
		p.SVIDTTL = DefaultSVIDTTL
	}
	if p.RootTTL <= 0 {
		p.RootTTL = 10 * 365 * 24 * time.Hour
	}
	// Each logger carries one component, so that no line has the field twice.
	log, enrollLog := p.Logger.With("component", "ca"), p.Logger.With("component", "ca-enroll")
	root, key, created, err := loadOrCreateRoot(p.DataDir, p.Clock.Now(), p.RootTTL)
	if err != nil {
		return nil, err
	}
	c := &CA{clock: p.Clock, log: log, enrollLog: enrollLog, svidTTL: p.SVIDTTL, root: root, key: key, allowed: p.IdentityAllowed,
		limit: newLimiter(p.EnrollLimit, p.Clock, enrollLog), revoked: &revocations{path: filepath.Join(p.DataDir, revocationsFile)}}
	c.tokens = &TokenStore{dir: tokenDir(p.DataDir), clock: p.Clock, rootHash: c.RootHash()}
	if err := c.tokens.init(); err != nil {
		return nil, err
	}
	log.Info("ca ready", "created", created, "root_sha256", c.RootHash(), "root_not_after", root.NotAfter)
	return c, nil
}

// Root is the root certificate that signs every SVID.
func (c *CA) Root() *x509.Certificate { return c.root }

// RootHash is the hex SHA-256 of the root's DER, the pin carried in join tokens.
func (c *CA) RootHash() string { return enrollproto.RootHash(c.root.Raw) }

// BundlePEM is the trust bundle: the root certificate, PEM encoded.
func (c *CA) BundlePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.root.Raw})
}

// Tokens is the CA's join token store.
func (c *CA) Tokens() *TokenStore { return c.tokens }

// Now is the CA's clock; the enrollment server uses it to check peer certificates.
func (c *CA) Now() time.Time { return c.clock.Now() }
