package translate

import (
	"slices"
	"testing"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

func spiffe(t *testing.T, s string) ir.SpiffeID {
	t.Helper()
	id, err := ir.ParseSpiffeID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

const (
	productpage = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage"
	reviews     = "spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"
	gw1         = "cluster1/gloo-mesh-gateways/istio-egressgateway"
	gw2         = "cluster2/gloo-mesh-gateways/istio-egressgateway"
)

type want struct {
	allow        bool
	kind         ir.Kind
	reason       string // exact, when set
	policy       string
	targets      []string
	upstream     string
	tlsMode, sni string
	dryRunDeny   bool
	dryRunReason string
}

func TestDecideSeedScenario(t *testing.T) {
	tests := []struct {
		name   string
		modify func(s *api.Snapshot)
		req    ir.Request
		want   want
	}{
		{
			name: "reviews is denied by the access policy with a reason naming the policy and caller",
			req:  ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80, Method: "GET", Path: "/"},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage",
				reason: "no rule of AccessPolicy bookinfo/egress-access-productpage allows " + reviews},
		},
		{
			name: "productpage is routed through cluster1's gateway first and TLS is originated to port 443",
			req:  ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Method: "GET", Path: "/"},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage",
				reason:   "AccessPolicy bookinfo/egress-access-productpage allows " + productpage + " to ExternalService bookinfo/google port 443",
				targets:  []string{gw1, gw2},
				upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "host matching ignores case and a trailing dot",
			req:  ir.Request{Source: id(productpage), Host: "WWW.Google.COM.", Port: 80, Method: "GET"},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage",
				targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "calling the service port itself is not in the registry: only portMatch leads to the gateway",
			req:  ir.Request{Source: id(productpage), Host: "www.google.com", Port: 443, Opaque: true},
			want: want{kind: ir.KindNotInRegistry, upstream: "www.google.com:443",
				reason: "www.google.com:443 is not in the registry (the host is, on other ports) (outboundTrafficPolicy REGISTRY_ONLY)"},
		},
		{
			name: "an unknown host is not in the registry under REGISTRY_ONLY",
			req:  ir.Request{Source: id(reviews), Host: "www.example.org", Port: 80, Method: "GET"},
			want: want{kind: ir.KindNotInRegistry, upstream: "www.example.org:80",
				reason: "www.example.org:80 is not in the registry (outboundTrafficPolicy REGISTRY_ONLY)"},
		},
		{
			name:   "an unknown host passes through under ALLOW_ANY",
			modify: func(s *api.Snapshot) { s.Meshes = []*api.Mesh{seedMesh(api.OutboundAllowAny)} },
			req:    ir.Request{Source: id(reviews), Host: "www.example.org", Port: 80, Method: "GET"},
			want: want{allow: true, kind: ir.KindPassthrough, upstream: "www.example.org:80",
				reason: "www.example.org:80 is not in the registry; outboundTrafficPolicy ALLOW_ANY passes it through directly"},
		},
		{
			name:   "with no Mesh the outbound policy is ALLOW_ANY, whatever the gateway's own meshConfig says",
			modify: func(s *api.Snapshot) { s.Meshes = nil },
			req:    ir.Request{Source: id(reviews), Host: "www.example.org", Port: 443, Opaque: true},
			want:   want{allow: true, kind: ir.KindPassthrough, upstream: "www.example.org:443"},
		},
		{
			name: "an identity from an unknown trust domain is denied",
			req:  ir.Request{Source: id("spiffe://elsewhere/ns/bookinfo/sa/bookinfo-productpage"), Host: "www.google.com", Port: 80},
			want: want{kind: ir.KindDenied,
				reason: `unknown trust domain "elsewhere" of spiffe://elsewhere/ns/bookinfo/sa/bookinfo-productpage: no cluster of the mesh has it`},
		},
		{
			name: "an unauthenticated caller is denied when a policy applies",
			req:  ir.Request{Host: "www.google.com", Port: 80, Method: "GET"},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage",
				reason: "no rule of AccessPolicy bookinfo/egress-access-productpage allows an unauthenticated caller"},
		},
		{
			name:   "with no policy any mesh identity is allowed",
			modify: func(s *api.Snapshot) { s.AccessPolicies = nil },
			req:    ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80, Method: "GET"},
			want: want{allow: true, kind: ir.KindRouted, targets: []string{gw1, gw2},
				reason:   "no AccessPolicy restricts ExternalService bookinfo/google port 443; any caller is allowed",
				upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a cluster2 workload prefers cluster2's gateway",
			modify: func(s *api.Snapshot) {
				s.Workloads = append(s.Workloads, seedWorkload("productpage-eu", "bookinfo-productpage", "cluster2", nil))
			},
			req: ir.Request{Source: id("spiffe://cluster2/ns/bookinfo/sa/bookinfo-productpage"), Host: "www.google.com", Port: 80},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage",
				targets: []string{gw2, gw1}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a ref to one cluster only routes through that cluster's gateway",
			modify: func(s *api.Snapshot) {
				refs := &s.ExternalServices[0].Spec.Ports[0].EgressGatewayRoutes.VirtualGatewayRefs
				*refs = (*refs)[1:]
			},
			req:  ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage", targets: []string{gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a client selector for another cluster does not match the same service account here",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies[0].Spec.Config.Authz.AllowedClients[0].ServiceAccountSelector.Cluster = "cluster2"
			},
			req:  ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage"},
		},
		{
			name: "a client selector for the caller's cluster matches",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies[0].Spec.Config.Authz.AllowedClients[0].ServiceAccountSelector.Cluster = "cluster1"
			},
			req:  ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage", targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a client selector by labels matches the workloads carrying them",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies[0].Spec.Config.Authz.AllowedClients[0].ServiceAccountSelector = &api.ObjectSelector{Labels: map[string]string{"app": "reviews"}}
			},
			req:  ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage", targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a client selector by labels does not match other workloads",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies[0].Spec.Config.Authz.AllowedClients[0].ServiceAccountSelector = &api.ObjectSelector{Labels: map[string]string{"app": "reviews"}}
			},
			req:  ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage"},
		},
		{
			name: "an empty client selector allows any identity",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies[0].Spec.Config.Authz.AllowedClients = []api.IdentitySelector{{}}
			},
			req:  ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage", targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a second policy allowing reviews is OR-ed with the first",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies = append(s.AccessPolicies, allowPolicy("allow-reviews", "bookinfo-reviews", nil, nil, false))
			},
			req:  ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/allow-reviews", targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a deny names every policy that applied",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies = append(s.AccessPolicies, allowPolicy("allow-ratings", "bookinfo-ratings", nil, nil, false))
			},
			req: ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage, bookinfo/allow-ratings",
				reason: "no rule of AccessPolicy bookinfo/egress-access-productpage, bookinfo/allow-ratings allows " + reviews},
		},
		{
			name:   "a method outside allowedMethods is denied with the method named",
			modify: func(s *api.Snapshot) { s.AccessPolicies[0].Spec.Config.Authz.AllowedMethods = []string{"GET"} },
			req:    ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Method: "POST", Path: "/"},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage",
				reason: "no rule of AccessPolicy bookinfo/egress-access-productpage allows " + productpage + ": method POST is not one of GET"},
		},
		{
			name:   "an allowed method passes",
			modify: func(s *api.Snapshot) { s.AccessPolicies[0].Spec.Config.Authz.AllowedMethods = []string{"get"} },
			req:    ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Method: "GET", Path: "/"},
			want:   want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage", targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name:   "a path prefix matches below it",
			modify: func(s *api.Snapshot) { s.AccessPolicies[0].Spec.Config.Authz.AllowedPaths = []string{"/books*"} },
			req:    ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Method: "GET", Path: "/books/1?x=y"},
			want:   want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage", targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a path outside the allowed paths is denied with the path named",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies[0].Spec.Config.Authz.AllowedPaths = []string{"/books*", "*/reviews"}
			},
			req: ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Method: "GET", Path: "/admin"},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage",
				reason: "no rule of AccessPolicy bookinfo/egress-access-productpage allows " + productpage + ": path /admin matches none of /books*, */reviews"},
		},
		{
			name:   "an opaque connection cannot match a rule with methods",
			modify: func(s *api.Snapshot) { s.AccessPolicies[0].Spec.Config.Authz.AllowedMethods = []string{"GET"} },
			req:    ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Opaque: true},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage",
				reason: "no rule of AccessPolicy bookinfo/egress-access-productpage allows " + productpage + ": an opaque TLS/TCP connection has no method, path or headers for the rule to match"},
		},
		{
			name: "a header rule requires one of its values and none of its excluded values",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies[0].Spec.Config.Authz.Match = &api.AuthzMatch{Request: &api.RequestMatch{Headers: map[string]api.HeaderValues{
					"X-Team": {Values: []string{"books*"}, NotValues: []string{"*-test"}},
				}}}
			},
			req: ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Method: "GET",
				Headers: func(n string) []string { return map[string][]string{"x-team": {"books-test"}}[n] }},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage",
				reason: "no rule of AccessPolicy bookinfo/egress-access-productpage allows " + productpage + `: header x-team value "books-test" is excluded by "*-test"`},
		},
		{
			name: "a dry-run policy allows and reports that it would deny",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies = []*api.AccessPolicy{allowPolicy("dry", "bookinfo-productpage", nil, nil, true)}
			},
			req: ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80, Method: "GET"},
			want: want{allow: true, kind: ir.KindRouted, targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com",
				reason:     "no AccessPolicy restricts ExternalService bookinfo/google port 443; any caller is allowed",
				dryRunDeny: true, dryRunReason: "no rule of AccessPolicy bookinfo/dry allows " + reviews},
		},
		{
			name: "a dry-run rule that matches reports nothing",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies = append(s.AccessPolicies, allowPolicy("dry", "bookinfo-productpage", nil, nil, true))
			},
			req:  ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Method: "GET"},
			want: want{allow: true, kind: ir.KindRouted, policy: "bookinfo/egress-access-productpage", targets: []string{gw1, gw2}, upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com"},
		},
		{
			name: "a dry-run rule never turns an enforced deny into an allow",
			modify: func(s *api.Snapshot) {
				s.AccessPolicies = append(s.AccessPolicies, allowPolicy("dry", "bookinfo-reviews", nil, nil, true))
			},
			req:  ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80, Method: "GET"},
			want: want{kind: ir.KindDenied, policy: "bookinfo/egress-access-productpage"},
		},
		{
			name: "a wildcard service matches a subdomain and the more specific host wins",
			modify: func(s *api.Snapshot) {
				s.ExternalServices = append(s.ExternalServices, directService("googleapis", []string{"*.googleapis.com"}, 443),
					directService("storage", []string{"storage.googleapis.com"}, 443))
			},
			req:  ir.Request{Source: id(reviews), Host: "a.b.googleapis.com", Port: 443, Opaque: true},
			want: want{allow: true, kind: ir.KindDirect, upstream: "a.b.googleapis.com:443", tlsMode: "SIMPLE", sni: "a.b.googleapis.com"},
		},
		{
			name: "a wildcard does not match the bare domain",
			modify: func(s *api.Snapshot) {
				s.ExternalServices = append(s.ExternalServices, directService("googleapis", []string{"*.googleapis.com"}, 443))
			},
			req:  ir.Request{Source: id(reviews), Host: "googleapis.com", Port: 443, Opaque: true},
			want: want{kind: ir.KindNotInRegistry, upstream: "googleapis.com:443"},
		},
		{
			name: "a policy on a wildcard service applies to its subdomains",
			modify: func(s *api.Snapshot) {
				s.ExternalServices = append(s.ExternalServices, directService("googleapis", []string{"*.googleapis.com"}, 443))
				p := allowPolicy("apis", "bookinfo-productpage", nil, nil, false)
				p.Spec.ApplyToDestinations[0].Selector.Name = "googleapis"
				s.AccessPolicies = append(s.AccessPolicies, p)
			},
			req:  ir.Request{Source: id(reviews), Host: "storage.googleapis.com", Port: 443, Opaque: true},
			want: want{kind: ir.KindDenied, policy: "bookinfo/apis", reason: "no rule of AccessPolicy bookinfo/apis allows " + reviews},
		},
		{
			name: "a gateway that does not expose the host leaves the route without a gateway",
			modify: func(s *api.Snapshot) {
				s.VirtualGateways[0].Spec.Listeners[0].ExposedExternalServices = []api.ExternalServiceFilter{{Host: "other.example.com"}}
			},
			req: ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80},
			want: want{kind: ir.KindNoRoute, policy: "bookinfo/egress-access-productpage", upstream: "www.google.com:443", tlsMode: "SIMPLE", sni: "www.google.com",
				reason: "no egress gateway serves www.google.com:80 (ExternalService bookinfo/google port 443 routes port 80 through gateways)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := seedSnapshot()
			if tt.modify != nil {
				tt.modify(s)
			}
			res := Translate(s)
			if res.Invalid() {
				t.Fatalf("invalid input: %v", res.Problems())
			}
			d := res.Plan.Decide(tt.req)
			check(t, d, tt.want)
		})
	}
}

func id(s string) ir.SpiffeID {
	v, err := ir.ParseSpiffeID(s)
	if err != nil {
		panic(err)
	}
	return v
}

func check(t *testing.T, d ir.Decision, w want) {
	t.Helper()
	if d.Allow != w.allow || d.Kind != w.kind {
		t.Errorf("got allow=%v kind=%s (%s), want allow=%v kind=%s", d.Allow, d.Kind, d.Reason, w.allow, w.kind)
	}
	if d.Reason == "" {
		t.Errorf("empty reason")
	}
	if w.reason != "" && d.Reason != w.reason {
		t.Errorf("reason:\n got %q\nwant %q", d.Reason, w.reason)
	}
	if d.Policy != w.policy {
		t.Errorf("policy %q, want %q", d.Policy, w.policy)
	}
	var got []string
	for _, tg := range d.Targets {
		got = append(got, tg.GatewayID)
	}
	if !slices.Equal(got, w.targets) {
		t.Errorf("targets %v, want %v", got, w.targets)
	}
	if w.upstream != "" && d.Upstream != w.upstream {
		t.Errorf("upstream %q, want %q", d.Upstream, w.upstream)
	}
	if d.TLSMode != w.tlsMode || d.SNI != w.sni {
		t.Errorf("tls %q sni %q, want %q %q", d.TLSMode, d.SNI, w.tlsMode, w.sni)
	}
	if d.DryRunDeny != w.dryRunDeny || (w.dryRunReason != "" && d.DryRunReason != w.dryRunReason) {
		t.Errorf("dry run %v %q, want %v %q", d.DryRunDeny, d.DryRunReason, w.dryRunDeny, w.dryRunReason)
	}
}

// allowPolicy is an AccessPolicy on bookinfo/google allowing one service account.
func allowPolicy(name, sa string, methods, paths []string, dryRun bool) *api.AccessPolicy {
	return &api.AccessPolicy{
		Header: hdr(api.SecurityV2, api.KindAccessPolicy, "bookinfo", name),
		Spec: api.AccessPolicySpec{
			ApplyToDestinations: []api.DestinationSelector{{
				Kind: api.DestinationExternalService, Selector: &api.ObjectSelector{Name: "google", Namespace: "bookinfo"},
			}},
			Config: api.AccessPolicyConfig{AuthzList: []api.Authorization{{
				AllowedClients: []api.IdentitySelector{{ServiceAccountSelector: &api.ObjectSelector{Name: sa}}},
				AllowedMethods: methods, AllowedPaths: paths, DryRun: dryRun,
			}}},
		},
	}
}

// directService is an ExternalService in bookinfo called directly (no gateway) with SIMPLE TLS origination.
func directService(name string, hosts []string, port uint32) *api.ExternalService {
	return &api.ExternalService{
		Header: hdr(api.NetworkingV2, api.KindExternalService, "bookinfo", name),
		Spec: api.ExternalServiceSpec{Hosts: hosts, Ports: []api.ServicePort{{
			Name: "https", Number: port, Protocol: api.ProtocolTLS, TargetPort: &api.PortSelector{Number: port},
			ClientsideTLS: &api.ClientTLS{Mode: api.ClientTLSSimple},
		}}},
	}
}
