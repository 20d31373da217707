package proxyrun

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/ca/enrollproto"
	"egret.dev/egret/internal/identity"
	"egret.dev/egret/internal/xds"
)

// Start is what a gateway or sidecar process starts from: its identity and its first config, read
// from a file or streamed from the control plane (which then delivers the later ones).
type Start struct {
	Source identity.Source
	// First is the first config.
	First    xds.Message
	closeSrc func() error
	stream   *configStream
}

// StartParams say what Begin reads.
type StartParams struct {
	// Kind is xds.KindGateway or xds.KindSidecar.
	Kind string
	// Config is a config file; "" streams the config from Identity.ControlPlane.
	Config   string
	Identity Identity
	// Load parses the config file into a Message.
	Load func(path string) (xds.Message, error)
	// Log is the process's logger, without a component: the identity source and the config stream
	// name their own.
	Log *slog.Logger
}

// Begin reads the config file (first, so that its problems are reported before anything else is
// tried) or opens the config stream, and the identity source. Close the Start when the proxy stops.
func Begin(ctx context.Context, p StartParams) (*Start, error) {
	if p.Config == "" && p.Identity.ControlPlane == "" {
		return nil, usage("name a config: --config FILE, or --control-plane ADDR to stream it")
	}
	ps := &Start{}
	if p.Config != "" {
		m, err := p.Load(p.Config)
		if err != nil {
			return nil, err
		}
		ps.First = m
	}
	src, closeSrc, err := p.Identity.Open(ctx, p.Log.With("proxy", p.Kind))
	if err != nil {
		return nil, err
	}
	ps.Source, ps.closeSrc = src, closeSrc
	if p.Config == "" {
		ps.stream = startConfigStream(ctx, p.Identity.ControlPlane, p.Kind, src, p.Log.With("component", p.Kind))
		m, err := ps.stream.wait(ctx)
		if err == nil && m.Kind != p.Kind {
			err = fmt.Errorf("the control plane sent a %s config to a %s", m.Kind, p.Kind)
		}
		if err != nil {
			closeSrc()
			return nil, err
		}
		ps.First = m
	}
	return ps, nil
}

// Close closes the identity source.
func (ps *Start) Close() error { return ps.closeSrc() }

// Certificate is the current SVID's leaf, or nil (for the certificate-expiry metric).
func (ps *Start) Certificate() *x509.Certificate {
	if svid, err := ps.Source.GetX509SVID(); err == nil {
		return svid.Certificates[0]
	}
	return nil
}

// OnUpdate applies later configs from the stream, if there is one; an error NACKs the version.
func (ps *Start) OnUpdate(kind string, apply func(xds.Message) error) {
	if ps.stream == nil {
		return
	}
	ps.stream.onUpdate(func(m xds.Message) error {
		if m.Kind != kind {
			return fmt.Errorf("a %s config sent to a %s", m.Kind, kind)
		}
		return apply(m)
	})
}

// configStream follows a proxy's config stream from the control plane. The first config is handed to
// wait; later ones go to the apply function set with onUpdate (an error NACKs the version).
type configStream struct {
	mu      sync.Mutex
	first   chan xds.Message
	gotOne  bool
	onApply func(xds.Message) error
	errc    chan error
}

// startConfigStream connects to the control plane with the proxy's SVID and keeps the delta xDS stream
// open until ctx ends (kind picks the resources).
func startConfigStream(ctx context.Context, addr, kind string, src identity.Source, log *slog.Logger) *configStream {
	cs := &configStream{first: make(chan xds.Message, 1), errc: make(chan error, 1)}
	go func() {
		cs.errc <- xds.RunDeltaClient(ctx, xds.DeltaClientParams{
			Address: addr,
			TLS:     identity.ClientTLSConfig(src, authorizeControlPlane, nil),
			Kind:    kind,
			Apply:   cs.apply,
			Log:     log,
		})
	}()
	return cs
}

func (cs *configStream) apply(m xds.Message) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if !cs.gotOne {
		cs.gotOne = true
		cs.first <- m
		return nil
	}
	if cs.onApply == nil {
		return errors.New("the proxy is still starting")
	}
	return cs.onApply(m)
}

// wait returns the first config, or the reason none came.
func (cs *configStream) wait(ctx context.Context) (xds.Message, error) {
	select {
	case m := <-cs.first:
		return m, nil
	case <-ctx.Done():
		return xds.Message{}, fmt.Errorf("stopped before the control plane sent a config")
	}
}

func (cs *configStream) onUpdate(f func(xds.Message) error) {
	cs.mu.Lock()
	cs.onApply = f
	cs.mu.Unlock()
}

// authorizeControlPlane accepts the control plane's certificate: spiffe://<any trust domain of the
// mesh's one root>/egret/controlplane (the chain was verified against the bundle already).
func authorizeControlPlane(id spiffeid.ID, _ [][]*x509.Certificate) error {
	if id.Path() != enrollproto.ControlPlanePath {
		return fmt.Errorf("%s is not the control plane", id)
	}
	return nil
}
