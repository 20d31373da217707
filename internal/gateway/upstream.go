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
	"sync"
	"time"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/origination"
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

// upstreamService is how to reach one service port: its TLS origination and pooled transport.
type upstreamService struct {
	port      ir.ServicePort
	tls       *tls.Config
	transport *http.Transport
	dial      func(ctx context.Context, network, address string) (net.Conn, error)
}

// NewUpstream returns the upstream side of a gateway.
func NewUpstream(p UpstreamParams) *Upstream {
	if p.DialTimeout == 0 {
		p.DialTimeout = 10 * time.Second
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
	us = &upstreamService{port: *port}
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
	static, allow := endpoints(svc, port)
	us.dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		var dialer net.Dialer
		dialer.Timeout = u.p.DialTimeout
		if o, ok := u.p.Overrides[address]; ok {
			return dialer.DialContext(ctx, network, o)
		}
		host, portStr, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		addrs := static
		if len(addrs) == 0 {
			if ip, err := netip.ParseAddr(host); err == nil {
				addrs = []netip.Addr{ip}
				if !allowed(ip, allow) {
					return nil, fmt.Errorf("address %s is not named by the ExternalService", ip)
				}
			} else if addrs, err = u.p.Resolver.Resolve(ctx, host, resolve.Lookup{Allow: allow}); err != nil {
				return nil, err
			}
		}
		p, _ := strconv.Atoi(portStr)
		if port.TargetPort != 0 && len(static) > 0 {
			p = int(endpointPort(svc, port))
		}
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
	us.transport = &http.Transport{
		DialContext:           us.dial,
		TLSClientConfig:       us.tls,
		ForceAttemptHTTP2:     us.tls != nil,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0,
		ExpectContinueTimeout: time.Second,
	}
	u.cache[key] = us
	return us, nil
}

// CloseIdle closes idle upstream connections of every transport.
func (u *Upstream) CloseIdle() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, us := range u.cache {
		us.transport.CloseIdleConnections()
	}
}

// endpoints returns the static addresses of a service (its ExternalEndpoints) and every address the
// service names explicitly, which the SSRF guard lets through.
func endpoints(svc *ir.ExternalService, port *ir.ServicePort) ([]netip.Addr, []netip.Prefix) {
	var static []netip.Addr
	var allow []netip.Prefix
	for _, e := range svc.Endpoints {
		if a, err := netip.ParseAddr(e.Address); err == nil {
			static = append(static, a)
			allow = append(allow, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	for _, a := range svc.Addresses {
		if p, err := netip.ParsePrefix(a); err == nil {
			allow = append(allow, p)
		} else if ip, err := netip.ParseAddr(a); err == nil {
			allow = append(allow, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return static, allow
}

// endpointPort is the port dialled on an ExternalEndpoint: the one its ports name, else the target port.
func endpointPort(svc *ir.ExternalService, port *ir.ServicePort) uint32 {
	for _, e := range svc.Endpoints {
		for _, p := range e.Ports {
			if (port.TargetPortName != "" && p.Name == port.TargetPortName) || (port.TargetPortName == "" && p.Name == port.Name && p.Name != "") {
				return p.Number
			}
		}
	}
	if port.TargetPort != 0 {
		return port.TargetPort
	}
	return port.Number
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
