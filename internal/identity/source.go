// Package identity is what a proxy uses to hold, rotate and present its SPIFFE identity: SVID
// sources (egret's CA, the SPIFFE Workload API, or files) and the TLS configs built on them.
package identity

import (
	"crypto/x509"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Source yields the current SVID and the trust bundle; every TLS config in this package asks it
// again on each handshake, so a rotated certificate is used without a restart.
type Source interface {
	x509svid.Source
	x509bundle.Source
}

// Clock is the source of time for rotation and certificate checks; tests pass a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock is the wall clock.
var SystemClock Clock = systemClock{}

// rootsBundle answers for every trust domain with the same roots: egret's CA signs all trust
// domains (one per cluster) with one root.
type rootsBundle []*x509.Certificate

func (r rootsBundle) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return x509bundle.FromX509Authorities(td, r), nil
}

var (
	_ Source = (*ClientSource)(nil)
	_ Source = (*FileSource)(nil)
	_ Source = (*WorkloadAPISource)(nil)
)
