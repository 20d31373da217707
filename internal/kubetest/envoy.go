package kubetest

import (
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacconfigv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// UpstreamTLS is the TLS context a cluster uses, from its transport socket or, for Istio's auto-mTLS
// shape, from its single tls transport socket match; nil when it has none (or c is nil).
func UpstreamTLS(c *clusterv3.Cluster) (*tlsv3.UpstreamTlsContext, error) {
	if c == nil {
		return nil, nil
	}
	sockets := []*corev3.TransportSocket{c.GetTransportSocket()}
	for _, m := range c.GetTransportSocketMatches() {
		sockets = append(sockets, m.GetTransportSocket())
	}
	for _, ts := range sockets {
		if ts == nil || !strings.HasSuffix(ts.GetTypedConfig().GetTypeUrl(), "UpstreamTlsContext") {
			continue
		}
		tls := &tlsv3.UpstreamTlsContext{}
		if err := ts.GetTypedConfig().UnmarshalTo(tls); err != nil {
			return nil, fmt.Errorf("decode upstream TLS of %s: %w", c.GetName(), err)
		}
		return tls, nil
	}
	return nil, nil
}

// PrincipalNames collects the authenticated principal names an RBAC principal matches (exact, prefix,
// suffix, contains or regex), walking and/or/not sets; "any" for a principal that matches everyone.
func PrincipalNames(p *rbacconfigv3.Principal) []string {
	var out []string
	switch id := p.GetIdentifier().(type) {
	case *rbacconfigv3.Principal_Authenticated_:
		m := id.Authenticated.GetPrincipalName()
		for _, s := range []string{m.GetExact(), m.GetPrefix(), m.GetSuffix(), m.GetContains(), m.GetSafeRegex().GetRegex()} {
			if s != "" {
				out = append(out, s)
			}
		}
	case *rbacconfigv3.Principal_AndIds:
		for _, x := range id.AndIds.GetIds() {
			out = append(out, PrincipalNames(x)...)
		}
	case *rbacconfigv3.Principal_OrIds:
		for _, x := range id.OrIds.GetIds() {
			out = append(out, PrincipalNames(x)...)
		}
	case *rbacconfigv3.Principal_NotId:
		for _, n := range PrincipalNames(id.NotId) {
			out = append(out, "not "+n)
		}
	case *rbacconfigv3.Principal_Any:
		out = append(out, "any")
	default:
		out = append(out, "other:"+p.String())
	}
	return out
}
