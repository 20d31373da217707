package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/http2"

	"egret.dev/egret/internal/ir"
)

// gatewayConn is the pooled, multiplexed HTTP/2 connection to one gateway listener.
type gatewayConn struct {
	addr string
	id   ir.SpiffeID
	tr   *http2.Transport
	once sync.Once
}

func (g *gatewayConn) close() { g.once.Do(g.tr.CloseIdleConnections) }

// gateway returns the connection to the gateway target at addr, creating it on first use.
func (s *Sidecar) gateway(addr string, id ir.SpiffeID) *gatewayConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := addr + "|" + id.String()
	if g, ok := s.gateways[key]; ok {
		return g
	}
	conf := s.p.ClientTLS(id)
	conf.NextProtos = []string{"h2"}
	// The sidecar's own connections use the Direct dialer too: in transparent mode it carries the bypass
	// mark, without which the redirect would send them back to the sidecar.
	dialer := *s.p.Direct
	dialer.Timeout = s.p.Timeout
	g := &gatewayConn{addr: addr, id: id, tr: &http2.Transport{
		TLSClientConfig: conf,
		DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
			// Always the gateway's address, whatever authority the request carries.
			raw, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			c := tls.Client(raw, cfg)
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		},
		ReadIdleTimeout: 30e9, // ping a silent connection, so a dead gateway is noticed
		PingTimeout:     10e9,
	}}
	s.gateways[key] = g
	return g
}

// target is one gateway listener to try, with its address.
type target struct {
	t    ir.GatewayTarget
	addr string
}

// targets orders the decision's gateways for one call: the caller's own cluster first (as Decide
// orders them), spreading calls round-robin among the gateways of equal preference, and skipping
// gateways whose address the sidecar was not given.
func (s *Sidecar) targets(st *state, d ir.Decision) ([]target, error) {
	var out []target
	for _, t := range d.Targets {
		if a, ok := gatewayAddress(st.cfg.GatewayAddresses, t); ok {
			out = append(out, target{t: t, addr: a})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address is known for the gateways of %s (%d in the plan)", d.Host, len(d.Targets))
	}
	// Rotate within the leading group of the same cluster.
	n := 1
	for n < len(out) && out[n].t.Cluster == out[0].t.Cluster {
		n++
	}
	if n > 1 {
		k := int(s.next.Add(1) % uint64(n))
		lead := append(append([]target(nil), out[k:n]...), out[:k]...)
		out = append(lead, out[n:]...)
	}
	return out, nil
}

// roundTrip sends r to the first gateway that answers, failing over on connection errors only: an
// answer from a gateway, even an error status, is final.
func (s *Sidecar) roundTrip(r *http.Request, ts []target) (*http.Response, target, error) {
	var errs []error
	for _, t := range ts {
		g := s.gateway(t.addr, t.t.Identity)
		resp, err := g.tr.RoundTripOpt(r, http2.RoundTripOpt{})
		if err == nil {
			return resp, t, nil
		}
		errs = append(errs, fmt.Errorf("%s (%s): %w", t.t.GatewayID, t.addr, err))
		if r.Body != nil && r.Body != http.NoBody && r.GetBody == nil {
			break // the body is spent; it cannot be replayed to another gateway
		}
		if r.GetBody != nil {
			b, gerr := r.GetBody()
			if gerr != nil {
				break
			}
			r.Body = b
		}
		if ctxErr := r.Context().Err(); ctxErr != nil {
			break
		}
		s.p.Log.Warn("gateway unreachable, failing over", "gateway", t.t.GatewayID, "address", t.addr, "err", err)
	}
	return nil, target{}, &exhaustedError{attempts: len(errs), err: errors.Join(errs...)}
}

// exhaustedError is every gateway tried for a call failing; Attempts tells the log UF from URX.
type exhaustedError struct {
	attempts int
	err      error
}

func (e *exhaustedError) Error() string { return e.err.Error() }
func (e *exhaustedError) Unwrap() error { return e.err }
func (e *exhaustedError) Attempts() int { return e.attempts }

// gatewayAddress finds where a gateway listener is reached: "ID:targetPort" names one listener's
// address; "ID" names the gateway's host (its listeners on their target ports) or one host:port for all.
func gatewayAddress(addrs map[string]string, t ir.GatewayTarget) (string, bool) {
	if a, ok := addrs[fmt.Sprintf("%s:%d", t.GatewayID, t.TargetPort)]; ok {
		return a, true
	}
	a, ok := addrs[t.GatewayID]
	if !ok {
		return "", false
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		a = net.JoinHostPort(a, fmt.Sprint(t.TargetPort))
	}
	return a, true
}
