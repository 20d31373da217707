package identity

import (
	"context"
	"time"
)

const (
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// renewAt is half-way through the certificate's life: early enough to survive a control plane
// outage of half a TTL, late enough not to load the CA.
func (s *ClientSource) renewAt() time.Time {
	svid, _ := s.GetX509SVID()
	leaf := svid.Certificates[0]
	return leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
}

func (s *ClientSource) rotate(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.p.Clock.After(s.renewAt().Sub(s.p.Clock.Now())):
		}
		backoff := minBackoff
		for {
			err := s.renew(ctx)
			if err == nil {
				break
			}
			svid, _ := s.GetX509SVID()
			s.log.Warn("svid renewal failed; retrying", "err", err, "retry_in", backoff, "expires_at", svid.Certificates[0].NotAfter)
			select {
			case <-ctx.Done():
				return
			case <-s.p.Clock.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
		}
	}
}
