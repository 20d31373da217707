package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/accesslog"
	"egret.dev/egret/internal/ca/enrollproto"
	"egret.dev/egret/internal/identity"
	"egret.dev/egret/internal/xds"
)

// configStream follows a proxy's config stream from the control plane. The first config is handed to
// Wait; later ones go to the apply function set with OnUpdate (an error NACKs the version).
type configStream struct {
	mu      sync.Mutex
	first   chan xds.Message
	gotOne  bool
	onApply func(xds.Message) error
	errc    chan error
}

// The config protocol a proxy follows (--config-protocol): delta xDS. egret-config/v1, egret's own
// NDJSON stream, was removed; the flag stays so existing command lines keep working.
const (
	protocolXDS      = "xds"
	protocolConfigV1 = "egret-config/v1"
)

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

// Wait returns the first config, or the reason none came.
func (cs *configStream) Wait(ctx context.Context) (xds.Message, error) {
	select {
	case m := <-cs.first:
		return m, nil
	case <-ctx.Done():
		return xds.Message{}, fmt.Errorf("stopped before the control plane sent a config")
	}
}

// OnUpdate sets what to do with each later config.
func (cs *configStream) OnUpdate(f func(xds.Message) error) {
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

// proxyStart is what a gateway or sidecar command starts from: its identity and its first config, read
// from a file or streamed from the control plane (then stream delivers the later ones).
type proxyStart struct {
	src      identity.Source
	closeSrc func() error
	first    xds.Message
	stream   *configStream
}

// startProxy reads the config file (first, so that its problems are reported before anything else is
// tried) or opens the config stream, and the identity source. load parses a config file into a Message.
func startProxy(ctx context.Context, kind, config string, id identityFlags, base, log *slog.Logger, load func(string) (xds.Message, error)) (*proxyStart, error) {
	if config == "" && id.controlPlane == "" {
		return nil, withCode(ExitUsage, errors.New("name a config: --config FILE, or --control-plane ADDR to stream it"))
	}
	switch id.configProtocol {
	case "", protocolXDS:
	case protocolConfigV1:
		return nil, withCode(ExitUsage, fmt.Errorf("--config-protocol %s was removed: proxies follow delta xDS (%s) only", protocolConfigV1, protocolXDS))
	default:
		return nil, withCode(ExitUsage, fmt.Errorf("--config-protocol %q: want %s", id.configProtocol, protocolXDS))
	}
	ps := &proxyStart{}
	if config != "" {
		m, err := load(config)
		if err != nil {
			return nil, withCode(ExitError, err)
		}
		ps.first = m
	}
	src, closeSrc, err := id.source(ctx, base.With("proxy", kind))
	if err != nil {
		return nil, err
	}
	ps.src, ps.closeSrc = src, closeSrc
	if config == "" {
		ps.stream = startConfigStream(ctx, id.controlPlane, kind, src, log)
		m, err := ps.stream.Wait(ctx)
		if err == nil && m.Kind != kind {
			err = fmt.Errorf("the control plane sent a %s config to a %s", m.Kind, kind)
		}
		if err != nil {
			closeSrc()
			return nil, withCode(ExitError, err)
		}
		ps.first = m
	}
	return ps, nil
}

// onUpdate applies later configs from the stream, if there is one.
func (ps *proxyStart) onUpdate(kind string, apply func(xds.Message) error) {
	if ps.stream == nil {
		return
	}
	ps.stream.OnUpdate(func(m xds.Message) error {
		if m.Kind != kind {
			return fmt.Errorf("a %s config sent to a %s", m.Kind, kind)
		}
		return apply(m)
	})
}

// accessLog opens a proxy's access log: path "-" is standard output; format "" is the mesh's encoding
// (planEncoding), else JSON. Close the returned closer when the proxy stops.
func accessLog(s streams, path, format, planEncoding string, opts ...accesslog.Options) (*accesslog.Logger, func() error, error) {
	var o accesslog.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if format == "" {
		format = planEncoding
	}
	if format == "" {
		format = "JSON"
	}
	lf, err := accesslog.ParseFormat(format)
	if err != nil {
		return nil, nil, withCode(ExitUsage, err)
	}
	if path == "-" || path == "" {
		return accesslog.NewWith(s.out, lf, o), func() error { return nil }, nil
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, nil, withCode(ExitError, err)
	}
	return accesslog.NewWith(file, lf, o), file.Close, nil
}
