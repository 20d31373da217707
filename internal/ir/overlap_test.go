package ir

import (
	"strings"
	"testing"
)

// overlapPlan has the routed service shop/api (api.example.com, HTTPS 443 called on portMatch 80, only
// productpage allowed) and, listed before it so that order alone would let it win, the claims of a test case.
func overlapPlan(outbound OutboundMode, others ...ExternalService) *Plan {
	gwID := NewSpiffeID("c1", "gw", "egress")
	routed := ExternalService{ID: "shop/api", Name: "api", Namespace: "shop", Hosts: []HostPattern{"api.example.com"},
		Ports: []ServicePort{{Name: "https", Number: 443, Protocol: "HTTPS", TargetPort: 443, PortMatch: 80,
			TLS: &Origination{Mode: "SIMPLE", SNI: "api.example.com"}}}}
	p := &Plan{
		Outbound: outbound,
		Clusters: []Cluster{{Name: "c1", TrustDomain: "c1"}, {Name: "c2", TrustDomain: "c2"}},
		Services: append(append([]ExternalService(nil), others...), routed),
		Routes: []Route{{Host: "api.example.com", PortMatch: 80, ServiceID: "shop/api", Port: 443,
			Targets: []GatewayTarget{{GatewayID: "c1/gw/egress", Cluster: "c1", ListenerPort: 443, TargetPort: 8443, Identity: gwID}}}},
		Policies: []Policy{{ID: "shop/only-productpage", Name: "only-productpage", Namespace: "shop",
			Targets: []PolicyTarget{{ServiceID: "shop/api"}},
			Rules:   []Rule{{Clients: []ClientMatch{{ServiceAccount: "productpage"}}}}}},
	}
	return p.Compile()
}

func direct(id, ns string, host HostPattern, ports ...ServicePort) ExternalService {
	return ExternalService{ID: id, Name: strings.TrimPrefix(id, ns+"/"), Namespace: ns, Hosts: []HostPattern{host}, Ports: ports}
}

var (
	httpPort  = ServicePort{Name: "http", Number: 80, Protocol: "HTTP", TargetPort: 80}
	httpsPort = ServicePort{Name: "https", Number: 443, Protocol: "HTTPS", TargetPort: 443, TLS: &Origination{Mode: "SIMPLE"}}
	tlsPort   = ServicePort{Name: "tls", Number: 443, Protocol: "TLS", TargetPort: 443}
)

// Whatever else claims a host:port that a service routes through gateways, the gateway path wins for
// every caller: the routed port goes through the gateway under the routed service's policies, and the
// routed service port is never dialled directly.
func TestOverlappingClaimsGatewayWins(t *testing.T) {
	pp := NewSpiffeID("c1", "bookinfo", "productpage")
	reviews := NewSpiffeID("c1", "bookinfo", "reviews")
	reviewsC2 := NewSpiffeID("c2", "bookinfo", "reviews")
	tests := []struct {
		name    string
		plan    *Plan
		req     Request
		kind    Kind
		reason  string // a part of the reason
		overlap string // a part of d.Overlap
	}{
		{name: "exact claim in another namespace on the portMatch is overruled: the denied workload is denied",
			plan: overlapPlan(RegistryOnly, direct("evil/api", "evil", "api.example.com", httpPort)),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: KindDenied, reason: "no rule of AccessPolicy shop/only-productpage allows",
			overlap: "ExternalService evil/api also claims api.example.com:80 directly; the gateway route of shop/api wins"},
		{name: "exact claim in another namespace on the portMatch: the allowed workload is routed",
			plan: overlapPlan(RegistryOnly, direct("evil/api", "evil", "api.example.com", httpPort)),
			req:  Request{Source: pp, Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: KindRouted, overlap: "the gateway route of shop/api wins"},
		{name: "exact claim on the routed service port is refused, even for the allowed workload",
			plan: overlapPlan(RegistryOnly, direct("evil/api", "evil", "api.example.com", tlsPort)),
			req:  Request{Source: pp, Host: "api.example.com", Port: 443, Opaque: true},
			kind: KindNotInRegistry, reason: "api.example.com:443 is reached only through egress gateways: ExternalService shop/api routes api.example.com through egress gateways (called on port 80)",
			overlap: "ExternalService evil/api also claims api.example.com:443 directly; refused"},
		{name: "exact HTTPS claim on the routed service port is refused for the denied workload",
			plan: overlapPlan(RegistryOnly, direct("evil/api", "evil", "api.example.com", httpsPort)),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 443, Method: "GET", Path: "/"},
			kind: KindNotInRegistry, reason: "is reached only through egress gateways"},
		{name: "a wildcard claim covering the routed host does not open its service port",
			plan: overlapPlan(RegistryOnly, direct("evil/all", "evil", "*.example.com", tlsPort)),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 443, Opaque: true},
			kind: KindNotInRegistry, reason: "is reached only through egress gateways", overlap: "ExternalService evil/all also claims"},
		{name: "a wildcard claim still serves the hosts nobody routes",
			plan: overlapPlan(RegistryOnly, direct("evil/all", "evil", "*.example.com", tlsPort)),
			req:  Request{Source: reviews, Host: "www.example.com", Port: 443, Opaque: true},
			kind: KindDirect},
		{name: "a * claim does not open the routed service port",
			plan: overlapPlan(RegistryOnly, direct("evil/any", "evil", "*", tlsPort, httpPort)),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 443, Opaque: true},
			kind: KindNotInRegistry, reason: "is reached only through egress gateways"},
		{name: "a * claim on port 80 loses to the more specific route",
			plan: overlapPlan(RegistryOnly, direct("evil/any", "evil", "*", tlsPort, httpPort)),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: KindDenied, reason: "no rule of AccessPolicy shop/only-productpage allows"},
		{name: "a routed wildcard wins over an exact direct claim it covers",
			plan: func() *Plan {
				p := overlapPlan(RegistryOnly, direct("evil/api", "evil", "api.example.com", httpPort))
				p.Services[1].Hosts, p.Routes[0].Host = []HostPattern{"*.example.com"}, "*.example.com"
				return p.Compile()
			}(),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: KindDenied, reason: "no rule of AccessPolicy shop/only-productpage allows",
			overlap: "ExternalService evil/api also claims api.example.com:80 directly; the gateway route of shop/api wins"},
		{name: "ALLOW_ANY does not pass the routed service port through",
			plan: overlapPlan(AllowAny),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 443, Opaque: true},
			kind: KindNotInRegistry, reason: "is reached only through egress gateways",
			overlap: "outboundTrafficPolicy ALLOW_ANY would pass api.example.com:443 through directly; refused"},
		{name: "ALLOW_ANY still passes other ports of the routed host through",
			plan: overlapPlan(AllowAny),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 8080, Opaque: true},
			kind: KindPassthrough},
		{name: "a claim in another cluster is refused where the route does not exist",
			plan: func() *Plan {
				p := overlapPlan(RegistryOnly, ExternalService{ID: "evil/api@c2", Name: "api", Namespace: "evil", Cluster: "c2",
					Hosts: []HostPattern{"api.example.com"}, Ports: []ServicePort{httpPort}})
				p.Services[1].Cluster, p.Services[1].ID = "c1", "shop/api@c1"
				p.Routes[0].ServiceID, p.Policies[0].Targets[0].ServiceID = "shop/api@c1", "shop/api@c1"
				return p.Compile()
			}(),
			req:  Request{Source: reviewsC2, Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: KindNotInRegistry, reason: "routes it through egress gateways in cluster c1 only"},
		{name: "a second routed claim without policies does not lift the first one's policies",
			plan: func() *Plan {
				other := direct("evil/api", "evil", "api.example.com", ServicePort{Name: "http", Number: 80, Protocol: "HTTP", TargetPort: 80, PortMatch: 80})
				p := overlapPlan(RegistryOnly, other)
				p.Routes = append([]Route{{Host: "api.example.com", PortMatch: 80, ServiceID: "evil/api", Port: 80, Targets: p.Routes[0].Targets}}, p.Routes...)
				return p.Compile()
			}(),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 80, Method: "GET", Path: "/"},
			kind: KindDenied, reason: "also routed through egress gateways by ExternalService shop/api, whose policies apply too",
			overlap: "ExternalService shop/api also routes api.example.com:80 through gateways; the AccessPolicies of both apply"},
		{name: "a hidden routed wildcard refuses a visible exact claim in another workspace",
			plan: func() *Plan {
				p := overlapPlan(RegistryOnly, direct("team/api", "team", "api.example.com", tlsPort))
				p.Workspaces = []Workspace{{Name: "shop", Members: []WorkspaceMember{{Cluster: "*", Namespace: "shop"}}},
					{Name: "team", Members: []WorkspaceMember{{Cluster: "*", Namespace: "bookinfo"}, {Cluster: "*", Namespace: "team"}}}}
				p.Services[0].Visibility = []Visibility{{Workspace: "team"}}
				p.Services[1].Visibility = []Visibility{{Workspace: "shop"}}
				p.Services[1].Hosts = []HostPattern{"*.example.com"}
				p.Routes[0].Host = "*.example.com"
				return p.Compile()
			}(),
			req:  Request{Source: reviews, Host: "api.example.com", Port: 443, Opaque: true},
			kind: KindNotInRegistry, reason: "is reached only through egress gateways"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.plan.Decide(tt.req)
			if d.Kind != tt.kind || !strings.Contains(d.Reason, tt.reason) || !strings.Contains(d.Overlap, tt.overlap) {
				t.Fatalf("got %s %q (overlap %q), want %s with %q (overlap %q)", d.Kind, d.Reason, d.Overlap, tt.kind, tt.reason, tt.overlap)
			}
			if d.Kind == KindRouted && (len(d.Targets) == 0 || d.Service != "shop/api") {
				t.Fatalf("routed without the routed service's gateways: %+v", d)
			}
		})
	}
}
