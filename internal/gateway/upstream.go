package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"egret.dev/egret/internal/failover"
	"egret.dev/egret/internal/httpfwd"
	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/origination"
	"egret.dev/egret/internal/ownlisteners"
	"egret.dev/egret/internal/resolve"
)

// Resolver finds the addresses of an external host; *resolve.Resolver is the real one. Addresses the
// configuration names go in the Lookup; any other private, loopback or link-local answer is refused.
type Resolver interface {
	Resolve(ctx context.Context, host string, lu resolve.Lookup) ([]netip.Addr, error)
}

var _ Resolver = (*resolve.Resolver)(nil)

// UpstreamParams configure how the gateway reaches external hosts.
type UpstreamParams struct {
	Resolver Resolver
	// Overrides maps host:port to the address dialled instead (a resolve override, for local stand-ins
	// of external hosts); the configuration names these addresses, so the SSRF guard does not apply.
	Overrides map[string]string
	// ExtraRootsFile, when set, is the CA bundle used to verify external hosts whose ExternalService
	// names no caCertificates, instead of the system roots (for local stand-ins with their own CA).
	ExtraRootsFile string
	DialTimeout    time.Duration
	// Own is the registry of egret's listeners, which the gateway never dials whatever a resource, a DNS
	// answer or an override names; nil is ownlisteners.Default.
	Own *ownlisteners.Registry
}

// Upstream dials external hosts and keeps one pooled transport per service port (and host, for wildcards).
type Upstream struct {
	p UpstreamParams

	mu    sync.RWMutex
	cache map[upstreamKey]*upstreamService
}

type upstreamKey struct {
	version string
	service string
	port    uint32
	host    string
}

// upstreamService is how to reach one service port: its TLS origination, its ExternalEndpoints (if the
// service selects any) and pooled transport.
type upstreamService struct {
	port      ir.ServicePort
	tls       *tls.Config
	transport *http.Transport // HTTP/2 hosts and protocol upgrades
	h1        *httpfwd.Client // every other request, when the port speaks HTTP/1.1
	dial      func(ctx context.Context, network, address string) (net.Conn, error)
	endpoints []ir.UpstreamEndpoint
	epAddrs   []string
	rotor     failover.Rotor
}

// pick is the address a new request goes to: the service's host and target port, or, when the service
// has ExternalEndpoints, the next endpoint in turn (the dial fails over to the others).
func (us *upstreamService) pick(d ir.Decision) string {
	if len(us.epAddrs) == 0 {
		return d.Upstream
	}
	return us.epAddrs[us.rotor.Start(len(us.epAddrs))]
}

// NewUpstream returns the upstream side of a gateway.
func NewUpstream(p UpstreamParams) *Upstream {
	if p.DialTimeout == 0 {
		p.DialTimeout = 10 * time.Second
	}
	if p.Own == nil {
		p.Own = ownlisteners.Default
	}
	return &Upstream{p: p, cache: map[upstreamKey]*upstreamService{}}
}

// forService returns the upstream of the decision's service port, building it on first use for the
// config version in force (a new config builds new transports; old ones drain with their requests).
func (u *Upstream) forService(st *state, d ir.Decision) (*upstreamService, error) {
	svc := st.service(d.Service)
	if svc == nil {
		return nil, fmt.Errorf("service %s is not in the gateway's config", d.Service)
	}
	var port *ir.ServicePort
	for i := range svc.Ports {
		if svc.Ports[i].Number == d.ServicePort {
			port = &svc.Ports[i]
		}
	}
	if port == nil {
		return nil, fmt.Errorf("service %s has no port %d", d.Service, d.ServicePort)
	}
	key := upstreamKey{version: st.cfg.Version, service: svc.ID, port: port.Number, host: d.Host}
	// Every request looks its upstream up; only the first for a key builds it.
	u.mu.RLock()
	us, ok := u.cache[key]
	u.mu.RUnlock()
	if ok {
		return us, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if us, ok := u.cache[key]; ok {
		return us, nil
	}
	us, err := u.build(svc, port, d)
	if err != nil {
		return nil, err
	}
	u.evictFor(key)
	u.cache[key] = us
	return us, nil
}

// build makes the upstream of one service port: its TLS origination, its dialer and its clients.
func (u *Upstream) build(svc *ir.ExternalService, port *ir.ServicePort, d ir.Decision) (*upstreamService, error) {
	us := &upstreamService{port: *port}
	if t := port.TLS; t != nil && t.Mode != "DISABLE" {
		cas := t.CACertificates
		if cas == "" {
			cas = u.p.ExtraRootsFile
		}
		conf, err := origination.ClientTLS(origination.Config{
			Mode:               origination.Mode(t.Mode),
			SNI:                d.SNI,
			CACertificates:     cas,
			ClientCertificate:  t.ClientCertificate,
			PrivateKey:         t.PrivateKey,
			SubjectAltNames:    t.SubjectAltNames,
			InsecureSkipVerify: t.InsecureSkipVerify,
		})
		if err != nil {
			return nil, fmt.Errorf("TLS origination for %s: %w", svc.ID, err)
		}
		us.tls = conf
	}
	us.endpoints, us.epAddrs = d.Endpoints, ir.EndpointAddresses(d.Endpoints)
	us.dial = u.dialer(us, allowList(svc))
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := us.dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return withAddrs(c), nil
	}
	us.transport = &http.Transport{
		DialContext: dial,
		// Its own copy: the Transport adds h2 to the config's NextProtos the first time it is used.
		TLSClientConfig:   us.tls.Clone(),
		ForceAttemptHTTP2: us.tls != nil,
		// Keep as many idle connections as callers use at once: an HTTP/1.1 host gets one connection per
		// request in flight, and every connection above the idle limit was closed after its response and
		// dialled again (a TLS handshake per request) as soon as more than 64 requests overlapped.
		MaxIdleConns:          maxIdle,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       idleTimeout,
		TLSHandshakeTimeout:   handshakeTimeout,
		ResponseHeaderTimeout: 0,
		ExpectContinueTimeout: time.Second,
	}
	if speaksHTTP1(port.Protocol) {
		// The same dialer, TLS configuration (offering http/1.1 only) and limits, without the
		// Transport's per-connection goroutines.
		us.h1 = &httpfwd.Client{
			Dial: dial, TLS: us.tls, TLSHandshakeTimeout: handshakeTimeout,
			MaxIdle: maxIdle, MaxIdlePerHost: maxIdlePerHost, IdleTimeout: idleTimeout,
		}
	}
	return us, nil
}

// The upstream connection pools' limits.
const (
	maxIdle          = 4096
	maxIdlePerHost   = 1024
	idleTimeout      = 90 * time.Second
	handshakeTimeout = 10 * time.Second
)

// speaksHTTP1 reports whether a service port's requests go upstream as HTTP/1.1: every HTTP protocol
// but those that need HTTP/2 end to end (gRPC, and HTTP2 itself), which keep the Transport's ALPN h2.
func speaksHTTP1(protocol string) bool {
	switch strings.ToUpper(protocol) {
	case "HTTP2", "GRPC", "GRPC-WEB":
		return false
	}
	return true
}

// dialer connects to the address a request names (or the service's ExternalEndpoints), vetting every
// address before it is dialled: the own-listener check, and the SSRF guard for resolved names.
func (u *Upstream) dialer(us *upstreamService, allow []netip.Prefix) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		// Control vets the address of every connection, however it was found, before it is made.
		dialer := &net.Dialer{Timeout: u.p.DialTimeout, Control: u.p.Own.Control}
		if len(us.endpoints) > 0 {
			// ExternalEndpoints are where the traffic goes, whatever address the request named: start at
			// the one picked for it (or the next in turn) and fail over on connect errors.
			start := failover.Index(us.epAddrs, address)
			if start < 0 {
				start = us.rotor.Start(len(us.epAddrs))
			}
			return failover.Dial(ctx, us.epAddrs, start, func(ctx context.Context, i int) (net.Conn, error) {
				return u.dialEndpoint(ctx, dialer, network, us.endpoints[i], allow)
			})
		}
		if o, ok := u.p.Overrides[address]; ok {
			return dialer.DialContext(ctx, network, o)
		}
		host, portStr, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{ip}
			if !allowed(ip, allow) {
				return nil, fmt.Errorf("address %s is not named by the ExternalService", ip)
			}
		} else if addrs, err = u.p.Resolver.Resolve(ctx, host, resolve.Lookup{Allow: allow}); err != nil {
			return nil, err
		}
		p, _ := strconv.Atoi(portStr)
		var errs []error
		for _, a := range addrs {
			c, err := dialer.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(p)).String())
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// maxUpstreams bounds the pooled transports one gateway keeps. A wildcard ExternalService gets one per
// requested host, so without a bound any caller its policies allow could grow the gateway's memory
// with made-up names.
const maxUpstreams = 4096

// evictFor makes room for key: transports of another config version go (the first upstream built for
// a new config retires the old config's), and past maxUpstreams one other entry goes. Their idle
// connections close now; connections busy with a request close when it ends and their idle timeout
// passes. Called with u.mu held.
func (u *Upstream) evictFor(key upstreamKey) {
	for k, old := range u.cache {
		if k.version != key.version {
			old.retire()
			delete(u.cache, k)
		}
	}
	for k, old := range u.cache {
		if len(u.cache) < maxUpstreams {
			break
		}
		old.retire()
		delete(u.cache, k)
	}
}

// retire closes the upstream's idle connections; the HTTP/1.1 client's busy ones close when their
// request ends.
func (us *upstreamService) retire() {
	us.transport.CloseIdleConnections()
	if us.h1 != nil {
		us.h1.Close()
	}
}

// CloseIdle closes idle upstream connections of every transport.
func (u *Upstream) CloseIdle() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, us := range u.cache {
		us.transport.CloseIdleConnections()
		if us.h1 != nil {
			us.h1.CloseIdleConnections()
		}
	}
}

// dialEndpoint dials one ExternalEndpoint: an IP as declared (the operator named it), a host name through
// the resolver and its SSRF guard. A link-local or metadata address the endpoint did not opt in to is
// refused here too, whatever the config says.
func (u *Upstream) dialEndpoint(ctx context.Context, dialer *net.Dialer, network string, ep ir.UpstreamEndpoint, allow []netip.Prefix) (net.Conn, error) {
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		return u.p.Resolver.Resolve(ctx, host, resolve.Lookup{Allow: allow})
	}
	return failover.DialAddress(ctx, ep.Address, lookup, ep.CheckDial, func(ctx context.Context, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	})
}

// allowList is every address the service names explicitly, which the SSRF guard lets through.
func allowList(svc *ir.ExternalService) []netip.Prefix {
	var allow []netip.Prefix
	for _, a := range svc.Addresses {
		if p, err := netip.ParsePrefix(a); err == nil {
			allow = append(allow, p)
		} else if ip, err := netip.ParseAddr(a); err == nil {
			allow = append(allow, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return allow
}

func allowed(a netip.Addr, allow []netip.Prefix) bool {
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// cancelBody releases the upstream timeout's context once the response body is done.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
