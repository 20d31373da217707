package xds

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
)

// DeltaClientParams configure a proxy's delta xDS client.
type DeltaClientParams struct {
	// Address is the control plane's TLS port, host:port, or several (comma-separated) of control planes
	// serving one mesh from one data dir and config dir: the client follows one at a time and, when its
	// stream fails, moves to the next (see Addresses).
	Address string
	// Addresses, when set, replaces Address: the control planes to try in turn.
	Addresses []string
	// TLS presents the proxy's SVID and verifies the control plane (identity.ClientTLSConfig).
	TLS *tls.Config
	// Kind is KindGateway or KindSidecar: which resource types to subscribe to.
	Kind string
	// Apply is handed the proxy's whole config, reassembled from its resources, once every type has
	// arrived and after each change; an error NACKs the response and the proxy keeps its last config.
	Apply func(Message) error
	// Raw, when set, replaces keeping and reassembling resources: it sees each response, and its error
	// NACKs it (benchmarks connect many clients in one process this way).
	Raw func(*discovery.DeltaDiscoveryResponse) error
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnections (defaults 200 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
}

// MaxResponseSize bounds one response a proxy accepts. A first sync carries the proxy's whole share in
// one response (10,000 routed services and their policies are about 6 MB), past gRPC's 4 MB default.
const MaxResponseSize = 256 << 20

// RunDeltaClient keeps a delta ADS stream open until ctx ends. It keeps the resources it was sent (so a
// reconnection sends their versions and receives only what changed), hands the reassembled config to
// Apply, and ACKs or NACKs every response with the error.
func RunDeltaClient(ctx context.Context, p DeltaClientParams) error {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.MinBackoff == 0 {
		p.MinBackoff = 200 * time.Millisecond
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = 10 * time.Second
	}
	types := SidecarTypes
	if p.Kind == KindGateway {
		types = GatewayTypes
	}
	addrs := p.Addresses
	if len(addrs) == 0 {
		addrs = SplitAddresses(p.Address)
	}
	if len(addrs) == 0 {
		return errors.New("xds: no control-plane address")
	}
	conns := make([]*grpc.ClientConn, len(addrs))
	for i, a := range addrs {
		conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(credentials.NewTLS(p.TLS.Clone())),
			grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 2 * Heartbeat, Timeout: 5 * time.Second}),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponseSize)))
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return err
		}
		conns[i] = conn
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	st := &clientState{res: Resources{}, versions: map[string]map[string]string{}}
	backoff, at := p.MinBackoff, 0
	for {
		got, err := st.stream(ctx, discovery.NewAggregatedDiscoveryServiceClient(conns[at]), p, types)
		if ctx.Err() != nil {
			return nil
		}
		if got {
			backoff = p.MinBackoff
		}
		// The next control plane gets the next attempt: it serves the same versions from the same
		// inputs, so the resources held from this one count there, and the config applied stays in
		// force meanwhile.
		next := (at + 1) % len(addrs)
		p.Log.Warn("config stream lost; retrying", "control_plane", addrs[at], "next", addrs[next], "err", err, "in", backoff.String())
		at = next
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		if next == 0 || !got {
			// A full round of failures (or one that never answered) lengthens the wait; moving on from
			// a stream that worked does not.
			backoff = min(2*backoff, p.MaxBackoff)
		}
	}
}

// SplitAddresses splits a comma-separated list of control-plane addresses (--control-plane a:15012,b:15012),
// dropping empty entries and spaces.
func SplitAddresses(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// clientState is what a client knows across reconnections: resources and their versions by type and
// name, and an order-independent digest of all versions (the config's version).
type clientState struct {
	res      Resources
	versions map[string]map[string]string
	digest   configDigest
	applied  string
}

func (st *clientState) toggle(typ, name, version string) { st.digest.toggle(typ, name, version) }

func (st *clientState) version() string { return st.digest.String() }

// stream runs one ADS stream until it fails; got says whether any response arrived.
func (st *clientState) stream(ctx context.Context, c discovery.AggregatedDiscoveryServiceClient, p DeltaClientParams, types []string) (got bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.DeltaAggregatedResources(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range types {
		// No names: a wildcard subscription (the control plane narrows a sidecar's Workload to its own).
		if err := s.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: t, InitialResourceVersions: st.versions[t]}); err != nil {
			return false, err
		}
	}
	// A type held from an earlier stream counts as arrived: the control plane sends nothing for it when
	// the versions the client reported are current, and waiting for it would withhold every ACK.
	seen := map[string]bool{}
	for _, t := range types {
		if st.res[t] != nil {
			seen[t] = true
		}
	}
	var pending []*discovery.DeltaDiscoveryResponse // answered once every type has arrived
	for {
		resp, err := s.Recv()
		if err != nil {
			return got, err
		}
		got = true
		var applyErr error
		if p.Raw != nil {
			applyErr = p.Raw(resp)
		} else {
			applyErr = st.take(resp)
		}
		seen[resp.GetTypeUrl()] = true
		pending = append(pending, resp)
		if len(seen) < len(types) {
			continue
		}
		if applyErr == nil && p.Raw == nil && st.version() != st.applied {
			var m Message
			if m, applyErr = assemble(p.Kind, st.res, st.version()); applyErr == nil {
				applyErr = p.Apply(m)
			}
			if applyErr == nil {
				st.applied = m.Version
				p.Log.Info("config applied", "version", m.Version)
			}
		}
		if applyErr != nil {
			p.Log.Warn("config rejected", "type", resp.GetTypeUrl(), "nonce", resp.GetNonce(), "err", applyErr)
		}
		for _, r := range pending {
			ack := &discovery.DeltaDiscoveryRequest{TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce()}
			if applyErr != nil && r == resp {
				ack.ErrorDetail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: applyErr.Error()}
			}
			if err := s.Send(ack); err != nil {
				return got, err
			}
		}
		pending = pending[:0]
	}
}

// take records a response's added, changed and removed resources.
func (st *clientState) take(resp *discovery.DeltaDiscoveryResponse) error {
	typ := resp.GetTypeUrl()
	if st.res[typ] == nil {
		st.res[typ], st.versions[typ] = map[string]proto.Message{}, map[string]string{}
	}
	for _, r := range resp.GetResources() {
		m, err := r.GetResource().UnmarshalNew()
		if err != nil {
			return fmt.Errorf("%s %s: %w", typ, r.GetName(), err)
		}
		if old, ok := st.versions[typ][r.GetName()]; ok {
			st.toggle(typ, r.GetName(), old)
		}
		st.res[typ][r.GetName()], st.versions[typ][r.GetName()] = m, r.GetVersion()
		st.toggle(typ, r.GetName(), r.GetVersion())
	}
	for _, name := range resp.GetRemovedResources() {
		if old, ok := st.versions[typ][name]; ok {
			st.toggle(typ, name, old)
			delete(st.res[typ], name)
			delete(st.versions[typ], name)
		}
	}
	return nil
}
