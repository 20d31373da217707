package origination

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DialContextFunc dials an upstream; the gateway passes one that resolves
// through its own resolver and SSRF guard.
type DialContextFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// PoolOptions tunes every transport in a Pool. Zero values get defaults.
type PoolOptions struct {
	DialContext           DialContextFunc // default: net.Dialer with a 10 s timeout
	IdleConnTimeout       time.Duration   // default 90 s
	MaxIdleConnsPerHost   int             // default 16
	TLSHandshakeTimeout   time.Duration   // default 10 s
	ResponseHeaderTimeout time.Duration   // default none
}

// Pool shares one *http.Transport, and so its keep-alive and HTTP/2
// connections, per upstream host, port and origination config.
type Pool struct {
	opts PoolOptions
	mu   sync.Mutex
	m    map[poolKey]*http.Transport
}

type poolKey struct {
	host string
	port int
	tls  string // configKey(cfg): the config's identity
}

// NewPool returns an empty pool.
func NewPool(opts PoolOptions) *Pool {
	if opts.DialContext == nil {
		opts.DialContext = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	if opts.IdleConnTimeout == 0 {
		opts.IdleConnTimeout = 90 * time.Second
	}
	if opts.MaxIdleConnsPerHost == 0 {
		opts.MaxIdleConnsPerHost = 16
	}
	if opts.TLSHandshakeTimeout == 0 {
		opts.TLSHandshakeTimeout = 10 * time.Second
	}
	return &Pool{opts: opts, m: map[poolKey]*http.Transport{}}
}

// configKey identifies a Config by every field that changes the TLS
// handshake. File contents are read once when the transport is built; a
// rotated CA or client certificate needs Pool.Reset.
func configKey(cfg Config) string {
	return strings.Join([]string{
		string(cfg.Mode), cfg.SNI, cfg.CACertificates, cfg.ClientCertificate, cfg.PrivateKey,
		strconv.Quote(strings.Join(cfg.SubjectAltNames, "\x00")), strconv.FormatBool(cfg.InsecureSkipVerify),
	}, "\x00")
}

// Scheme is the URL scheme requests through a transport for cfg must use.
func Scheme(cfg Config) string {
	if cfg.Mode == ModeDisable {
		return "http"
	}
	return "https"
}

// Transport returns the shared transport for host:port with cfg, building
// it on first use. Requests sent through it must use Scheme(cfg) and
// host:port as their URL host.
func (p *Pool) Transport(host string, port int, cfg Config) (*http.Transport, error) {
	key := poolKey{host: strings.ToLower(host), port: port, tls: configKey(cfg)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.m[key]; ok {
		return t, nil
	}
	tc, err := ClientTLS(cfg)
	if err != nil {
		return nil, err
	}
	if tc != nil && tc.ServerName == "" {
		// Send the host as SNI (virtual-hosted upstreams need it); with
		// SubjectAltNames the hostname check is replaced, not the SNI.
		tc.ServerName = host
	}
	t := &http.Transport{
		Proxy:                 nil, // never follow HTTP_PROXY from the environment
		DialContext:           p.opts.DialContext,
		TLSClientConfig:       tc,
		ForceAttemptHTTP2:     tc != nil,
		MaxIdleConnsPerHost:   p.opts.MaxIdleConnsPerHost,
		IdleConnTimeout:       p.opts.IdleConnTimeout,
		TLSHandshakeTimeout:   p.opts.TLSHandshakeTimeout,
		ResponseHeaderTimeout: p.opts.ResponseHeaderTimeout,
		DisableCompression:    true, // a proxy passes Accept-Encoding through untouched
	}
	p.m[key] = t
	return t, nil
}

// Len reports how many transports the pool holds.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// Reset drops every transport (after a config or certificate change) and
// closes their idle connections; requests in flight finish on the old ones.
func (p *Pool) Reset() {
	p.mu.Lock()
	old := p.m
	p.m = map[poolKey]*http.Transport{}
	p.mu.Unlock()
	for _, t := range old {
		t.CloseIdleConnections()
	}
}
