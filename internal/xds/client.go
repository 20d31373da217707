package xds

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// ClientParams configure a proxy's side of the stream.
type ClientParams struct {
	// Address is the control plane's TLS port, host:port.
	Address string
	// TLS presents the proxy's SVID and verifies the control plane (identity.ClientTLSConfig).
	TLS *tls.Config
	// Apply is called for each new version; an error NACKs it and the proxy keeps its last config.
	Apply func(Message) error
	Log   *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnections (defaults 200 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
}

// RunClient keeps a config stream open until ctx ends, applying each version and acknowledging it;
// when the control plane is unreachable it retries with backoff, and the proxy keeps serving what it
// has.
func RunClient(ctx context.Context, p ClientParams) error {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.MinBackoff == 0 {
		p.MinBackoff = 200 * time.Millisecond
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = 10 * time.Second
	}
	conf := p.TLS.Clone()
	conf.NextProtos = []string{"h2"}
	tr := &http2.Transport{
		TLSClientConfig: conf,
		DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
			d := tls.Dialer{Config: cfg}
			return d.DialContext(ctx, network, addr)
		},
		ReadIdleTimeout: 2 * Heartbeat,
		PingTimeout:     5 * time.Second,
	}
	defer tr.CloseIdleConnections()
	backoff := p.MinBackoff
	for {
		got, err := stream(ctx, tr, p)
		if ctx.Err() != nil {
			return nil
		}
		if got {
			backoff = p.MinBackoff
		}
		p.Log.Warn("config stream lost; retrying", "control_plane", p.Address, "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.MaxBackoff)
	}
}

// stream reads one stream until it fails; got says whether any config arrived.
func stream(ctx context.Context, tr *http2.Transport, p ClientParams) (got bool, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+p.Address+StreamPath, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("control plane answered %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var m Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return got, err
		}
		if m.Protocol != Protocol {
			return got, fmt.Errorf("control plane speaks %q, want %q", m.Protocol, Protocol)
		}
		if m.Kind == KindHeartbeat {
			continue
		}
		got = true
		ack := Ack{Version: m.Version}
		if err := p.Apply(m); err != nil {
			ack.Error = err.Error()
			p.Log.Warn("config rejected", "version", m.Version, "err", err)
		} else {
			p.Log.Info("config applied", "version", m.Version)
		}
		body, _ := json.Marshal(ack)
		areq, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+p.Address+AckPath, bytes.NewReader(body))
		areq.Header.Set("Content-Type", "application/json")
		aresp, err := tr.RoundTrip(areq)
		if err != nil {
			return got, fmt.Errorf("ack: %w", err)
		}
		if aresp.StatusCode >= 300 {
			// The control plane did not record the answer; reconnecting makes it send the version again.
			b, _ := io.ReadAll(io.LimitReader(aresp.Body, 1024))
			aresp.Body.Close()
			return got, fmt.Errorf("ack of %s refused: %d %s", m.Version, aresp.StatusCode, bytes.TrimSpace(b))
		}
		aresp.Body.Close()
	}
}
