package istio_test

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	netapi "istio.io/api/networking/v1alpha3"
	secapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/render/istio"
)

// answer is what a request comes to, in terms both egret and Istio have: allowed or not, and where an
// allowed request is finally dialled.
type answer struct {
	Allow    bool
	Upstream string
}

func (a answer) String() string {
	if !a.Allow {
		return "refused"
	}
	return "allowed to " + a.Upstream
}

// request is one row of the table: a caller in a namespace of the cluster and what it calls.
type request struct {
	caller  ir.SpiffeID
	host    string
	port    uint32
	method  string
	path    string
	headers map[string]string
	// pick chooses among weighted destinations, as ir.Request.Pick does (pick % 100, in listed order).
	pick uint32
	// labels and namespace are the caller's pod's, which Istio's sourceLabels/sourceNamespace match.
	labels    map[string]string
	namespace string
}

// TestRenderedConfigDecidesAsThePlan walks callers × hosts × ports × methods × paths × headers through
// Plan.Decide and through an evaluator of the rendered ServiceEntries, VirtualServices, Gateways and
// AuthorizationPolicies written from Istio's documented matching rules, and requires the same answer.
func TestRenderedConfigDecidesAsThePlan(t *testing.T) {
	cases := []struct {
		name    string
		input   string
		cluster string
		callers []ir.SpiffeID
		hosts   []string
		ports   []uint32
		methods []string
		paths   []string
		headers []map[string]string
		picks   []uint32
		// narrowed are host:port ("*" for any port) where the rendering is allowed to refuse what egret
		// allows, never the other way, because a warning says it is not rendered there.
		narrowed []string
	}{
		{
			name: "the seed: only the product page reaches www.google.com, through the gateway, on 443", input: "testdata/seed.in.yaml", cluster: "cluster1",
			callers: []ir.SpiffeID{
				ir.NewSpiffeID("cluster1", "bookinfo", "bookinfo-productpage"),
				ir.NewSpiffeID("cluster1", "bookinfo", "bookinfo-reviews"),
				ir.NewSpiffeID("cluster2", "bookinfo", "bookinfo-productpage"),
				ir.NewSpiffeID("cluster1", "other", "bookinfo-productpage"),
			},
			hosts:   []string{"www.google.com", "WWW.Google.com", "google.com", "evil.example"},
			ports:   []uint32{80, 443, 8080},
			methods: []string{"GET", "POST"},
			paths:   []string{"/", "/search?q=x"},
		},
		{
			name: "methods, paths, headers, a wildcard host and a dry-run policy", input: "testdata/wildcard-mutual-dryrun.in.yaml", cluster: "c1",
			callers: []ir.SpiffeID{
				ir.NewSpiffeID("c1", "apps", "reader"),
				ir.NewSpiffeID("c1", "apps", "writer"),
				ir.NewSpiffeID("c1", "ops", "oncall"),
				ir.NewSpiffeID("c1", "opsx", "oncall"),
			},
			hosts:   []string{"api.partner.example", "a.wild.example", "b.c.wild.example", "wild.example", "other.example"},
			ports:   []uint32{80, 443},
			methods: []string{"GET", "POST"},
			paths:   []string{"/v1/things", "/v1/", "/v2/things", "/"},
			headers: []map[string]string{nil, {"x-ticket": "T-1"}, {"x-ticket": ""}},
		},
		{
			name: "a RouteTable for some callers: the selected workloads of two namespaces are routed, others get no route", input: "testdata/routetable-callers.in.yaml", cluster: "c1",
			callers: []ir.SpiffeID{
				ir.NewSpiffeID("c1", "apps", "web"),
				ir.NewSpiffeID("c1", "apps", "batch"),
				ir.NewSpiffeID("c1", "ops", "admin"),
				ir.NewSpiffeID("c1", "ops", "nobody"),
			},
			hosts:   []string{"internal.example.com", "stable.example.com", "canary.example.com"},
			ports:   []uint32{80, 443},
			methods: []string{"GET", "POST"},
			paths:   []string{"/", "/v2/x"},
			headers: []map[string]string{nil, {"x-canary": "true"}},
			picks:   []uint32{0, 79, 80, 99},
			// An Istio ServiceEntry lists its ports: the table's host is routed on 80 only (warned).
			narrowed: []string{"internal.example.com:443"},
		},
		{
			name: "a gateway RouteTable: the gateway picks the service by header, path and weight, and its policy applies", input: "testdata/routetable-gateway.in.yaml", cluster: "c1",
			callers: []ir.SpiffeID{
				ir.NewSpiffeID("c1", "apps", "web"),
				ir.NewSpiffeID("c1", "apps", "batch"),
			},
			hosts:   []string{"api.partner.example", "v1.partner.example", "v2.partner.example", "open.example.com", "mixed.example.com"},
			ports:   []uint32{80, 443},
			methods: []string{"GET", "POST"},
			paths:   []string{"/", "/v1/x"},
			headers: []map[string]string{nil, {"x-beta": "1"}},
			picks:   []uint32{0, 89, 90, 99},
			// The table's host on other ports than 80 (warned), and the table whose destinations have
			// different policies, which is not rendered at all (warned).
			narrowed: []string{"api.partner.example:443", "mixed.example.com:*"},
		},
		{
			name: "Workspaces: who sees which service; a wildcard does not route around a gateway route it covers; a route no gateway serves answers 503", input: "testdata/workspaces.in.yaml", cluster: "cluster1",
			callers: []ir.SpiffeID{
				ir.NewSpiffeID("cluster1", "app", "client"),
				ir.NewSpiffeID("cluster1", "web-frontend", "frontend"),
				ir.NewSpiffeID("cluster1", "third", "snoop"),
				ir.NewSpiffeID("cluster1", "nosy", "peek"),
				ir.NewSpiffeID("cluster1", "lost", "wanderer"),
			},
			hosts:   []string{"api.example.com", "direct.example.com", "private.example.com", "other.example.com", "stray.example.com"},
			ports:   []uint32{80, 443},
			methods: []string{"GET"},
			paths:   []string{"/"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := plan(t, tc.input)
			out, err := istio.Render(p, tc.cluster)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.headers) == 0 {
				tc.headers = []map[string]string{nil}
			}
			if len(tc.picks) == 0 {
				tc.picks = []uint32{0}
			}
			for _, hp := range tc.narrowed {
				h, _, _ := strings.Cut(hp, ":")
				if !slices.ContainsFunc(out.Warnings, func(w string) bool { return strings.Contains(w, h) }) {
					t.Errorf("%s is narrowed with no warning naming it (warnings: %q)", hp, out.Warnings)
				}
			}
			n, allowed, narrowed := 0, 0, 0
			for _, c := range tc.callers {
				for _, h := range tc.hosts {
					for _, port := range tc.ports {
						for _, m := range tc.methods {
							for _, path := range tc.paths {
								for _, hdr := range tc.headers {
									for _, pick := range tc.picks {
										rq := request{caller: c, host: h, port: port, method: m, path: path, headers: hdr, pick: pick}
										rq.labels, rq.namespace = podOf(p, tc.cluster, c)
										want := egretAnswer(p, tc.cluster, rq)
										got := istioAnswer(out, p.Outbound, rq)
										n++
										if want.Allow {
											allowed++
										}
										if got != want && want.Allow && !got.Allow && isNarrowed(tc.narrowed, h, port) {
											narrowed++
											continue
										}
										if got != want {
											t.Errorf("%s → %s:%d %s %s %v pick %d: egret %s, Istio %s", c, h, port, m, path, hdr, pick, want, got)
										}
									}
								}
							}
						}
					}
				}
			}
			if allowed == 0 || allowed == n {
				t.Fatalf("%d of %d requests allowed: the table must have both answers to mean anything", allowed, n)
			}
			t.Logf("%d requests, %d allowed by egret, %d of them refused by Istio where a warning says so", n, allowed, narrowed)
		})
	}
}

// podOf is the labels and namespace of the caller's workload in the plan (the pod Istio matches by
// labels); a caller the plan has no workload for has none.
func podOf(p *ir.Plan, cluster string, id ir.SpiffeID) (map[string]string, string) {
	for _, w := range p.Workloads {
		if w.Cluster == cluster && w.Identity == id {
			return w.Labels, w.Namespace
		}
	}
	return nil, id.Namespace
}

// egretAnswer is the sidecar's decision and, when the sidecar leaves it to the gateway (a gateway
// RouteTable), the decision of the first gateway it sends the request to.
func isNarrowed(narrowed []string, host string, port uint32) bool {
	return slices.Contains(narrowed, host+":*") || slices.Contains(narrowed, net.JoinHostPort(host, strconv.Itoa(int(port))))
}

func egretAnswer(p *ir.Plan, cluster string, rq request) answer {
	req := ir.Request{
		Source: rq.caller, Cluster: cluster, Host: rq.host, Port: rq.port, Method: rq.method, Path: rq.path, Pick: rq.pick,
		Headers: func(name string) []string {
			if v, ok := rq.headers[strings.ToLower(name)]; ok {
				return []string{v}
			}
			return nil
		},
	}
	d := p.Decide(req)
	if d.Allow && d.Upstream == "" && len(d.Targets) > 0 {
		req.Gateway = d.Targets[0].GatewayID
		d = p.Decide(req)
	}
	if !d.Allow {
		return answer{}
	}
	return answer{Allow: true, Upstream: d.Upstream}
}

// istioAnswer follows a request as Envoy configured by istiod would: the caller's sidecar (registry =
// the ServiceEntries exported to its namespace; routes = the VirtualServices bound to the mesh), then
// the egress gateway (the server on the port the sidecar dials, its VirtualService routes and its
// AuthorizationPolicies).
func istioAnswer(o *istio.Output, outbound ir.OutboundMode, rq request) answer {
	host := strings.ToLower(rq.host)
	ns := rq.caller.Namespace
	se := findServiceEntry(o, ns, host, rq.port)
	if se == nil {
		if outbound == ir.RegistryOnly {
			return answer{} // BlackHoleCluster: 502
		}
		return answer{Allow: true, Upstream: net.JoinHostPort(host, strconv.Itoa(int(rq.port)))}
	}
	hr := route(o, ns, "mesh", host, rq)
	if hr != nil && hr.DirectResponse != nil {
		return answer{} // the 404 of a table no route of which matched
	}
	dest := pickDestination(hr, rq.pick)
	if dest == nil {
		// No route: the sidecar dials the registry entry itself.
		return answer{Allow: true, Upstream: net.JoinHostPort(host, strconv.Itoa(int(targetPort(se, rq.port))))}
	}
	svc, gwNS, ok := strings.Cut(dest.Host, ".")
	if !ok || !strings.HasSuffix(dest.Host, ".svc.cluster.local") {
		return answer{Allow: true, Upstream: net.JoinHostPort(dest.Host, strconv.Itoa(int(dest.Port.GetNumber())))}
	}
	gwNS, _, _ = strings.Cut(gwNS, ".")
	// At the gateway: the Service port the sidecar dialled maps to the pod's target port, where a Gateway
	// server with ISTIO_MUTUAL must accept the host.
	var labels map[string]string
	var target uint32
	for _, s := range o.Services {
		if s.Name == svc && s.Namespace == gwNS {
			labels = s.Spec.Selector
			for _, p := range s.Spec.Ports {
				if uint32(p.Port) == dest.Port.GetNumber() {
					target = uint32(p.TargetPort.IntVal)
				}
			}
		}
	}
	gw := findGateway(o, gwNS, labels, target, host)
	if gw == nil {
		return answer{} // no server for the SNI: the connection is reset
	}
	// At the gateway the source is the sidecar's mTLS peer; sourceLabels there would be the gateway's own.
	up := pickDestination(route(o, "", gw.Namespace+"/"+gw.Name, host, request{port: target, method: rq.method, path: rq.path, headers: rq.headers, caller: rq.caller}), rq.pick)
	if up == nil {
		return answer{} // 404 at the gateway
	}
	if !authorized(o, gwNS, labels, rq) {
		return answer{} // 403 RBAC: access denied
	}
	upHost := up.Host
	if strings.HasPrefix(upHost, "*") {
		// A wildcard destination is a DYNAMIC_DNS ServiceEntry: Envoy dials the requested host.
		upHost = host
	}
	return answer{Allow: true, Upstream: net.JoinHostPort(upHost, strconv.Itoa(int(up.Port.GetNumber())))}
}

func exported(exportTo []string, objNS, ns string) bool {
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		if e == "*" || e == ns || e == "." && objNS == ns {
			return true
		}
	}
	return false
}

// hostMatches is Istio's registry host match: exact, or "*.suffix" for one or more labels (any case).
func hostMatches(pattern, host string) bool {
	return ir.HostPattern(strings.ToLower(pattern)).Matches(host)
}

// findServiceEntry: a ServiceEntry in the caller's own namespace wins over one exported from elsewhere.
func findServiceEntry(o *istio.Output, ns, host string, port uint32) *networkingv1.ServiceEntry {
	var found *networkingv1.ServiceEntry
	for _, se := range o.ServiceEntries {
		if !exported(se.Spec.ExportTo, se.Namespace, ns) || !slices.ContainsFunc(se.Spec.Hosts, func(h string) bool { return hostMatches(h, host) }) {
			continue
		}
		if !slices.ContainsFunc(se.Spec.Ports, func(p *netapi.ServicePort) bool { return p.Number == port }) {
			continue
		}
		if found == nil || se.Namespace == ns {
			found = se
		}
	}
	return found
}

func targetPort(se *networkingv1.ServiceEntry, port uint32) uint32 {
	for _, p := range se.Spec.Ports {
		if p.Number == port && p.TargetPort != 0 {
			return p.TargetPort
		}
	}
	return port
}

// notFound is Envoy's answer when a VirtualService applies to the host and none of its routes matches.
var notFound = &netapi.HTTPRoute{Name: "404", DirectResponse: &netapi.HTTPDirectResponse{Status: 404}}

// route follows istiod and Envoy: the first VirtualService (visible to ns when ns is set) bound to gateway
// whose hosts match the host; istiod keeps, for this proxy, the routes with a match whose gateways, port
// and source labels and namespace fit it (a VirtualService left with none is ignored: nil, and the
// sidecar uses the registry entry); Envoy takes the first kept route whose uri, method and headers
// match, or answers 404 (notFound).
func route(o *istio.Output, ns, gateway, host string, rq request) *netapi.HTTPRoute {
	for _, vs := range o.VirtualServices {
		if ns != "" && !exported(vs.Spec.ExportTo, vs.Namespace, ns) {
			continue
		}
		gws := vs.Spec.Gateways
		if len(gws) == 0 {
			gws = []string{"mesh"}
		}
		if !slices.Contains(gws, gateway) || !slices.ContainsFunc(vs.Spec.Hosts, func(h string) bool { return hostMatches(h, host) }) {
			continue
		}
		kept := false
		for _, hr := range vs.Spec.Http {
			ms := hr.Match
			if len(ms) == 0 {
				ms = []*netapi.HTTPMatchRequest{{}}
			}
			for _, m := range ms {
				if !forProxy(m, gateway, rq) {
					continue
				}
				kept = true
				if matchesRequest(m, rq) {
					return hr
				}
			}
		}
		if kept {
			return notFound
		}
	}
	return nil
}

// pickDestination is Envoy's weighted cluster choice with the request's draw: the destinations in order,
// each taking its weight's share of 0-99 (a single destination takes all).
func pickDestination(hr *netapi.HTTPRoute, pick uint32) *netapi.Destination {
	if hr == nil || len(hr.Route) == 0 {
		return nil
	}
	x := int32(pick % 100)
	for _, d := range hr.Route {
		if len(hr.Route) == 1 || x < d.Weight {
			return d.Destination
		}
		x -= d.Weight
	}
	return hr.Route[len(hr.Route)-1].Destination
}

// forProxy is istiod's filter when it builds one proxy's routes (route.TranslateRoute): the match's
// port is the listener's, and its gateways, or else its source labels and namespace, fit the proxy.
func forProxy(m *netapi.HTTPMatchRequest, gateway string, rq request) bool {
	if m.Port != 0 && m.Port != rq.port {
		return false
	}
	if len(m.Gateways) > 0 {
		return slices.Contains(m.Gateways, gateway)
	}
	return subset(m.SourceLabels, rq.labels) && (m.SourceNamespace == "" || m.SourceNamespace == rq.namespace)
}

// matchesRequest is Envoy's per-request match: uri, method, headers present and absent.
func matchesRequest(m *netapi.HTTPMatchRequest, rq request) bool {
	path, _, _ := strings.Cut(rq.path, "?")
	if m.IgnoreUriCase {
		path = strings.ToLower(path)
		if p, ok := m.Uri.GetMatchType().(*netapi.StringMatch_Prefix); ok {
			m = proto.Clone(m).(*netapi.HTTPMatchRequest)
			m.Uri = &netapi.StringMatch{MatchType: &netapi.StringMatch_Prefix{Prefix: strings.ToLower(p.Prefix)}}
		}
	}
	if m.Uri != nil && !stringMatch(m.Uri, path) || m.Method != nil && !stringMatch(m.Method, rq.method) {
		return false
	}
	return headersMatch(m.Headers, rq.headers, false) && headersMatch(m.WithoutHeaders, rq.headers, true)
}

// headersMatch: every header must match (headers), or every one must not (withoutHeaders); a missing
// header matches no StringMatch.
func headersMatch(hs map[string]*netapi.StringMatch, have map[string]string, without bool) bool {
	for name, sm := range hs {
		v, ok := have[strings.ToLower(name)]
		if (ok && stringMatch(sm, v)) == without {
			return false
		}
	}
	return true
}

func stringMatch(sm *netapi.StringMatch, v string) bool {
	switch x := sm.MatchType.(type) {
	case *netapi.StringMatch_Exact:
		return v == x.Exact
	case *netapi.StringMatch_Prefix:
		return strings.HasPrefix(v, x.Prefix)
	case *netapi.StringMatch_Regex:
		// Envoy's safe_regex matches the whole value (RE2).
		return regexp.MustCompile("^(?:" + x.Regex + ")$").MatchString(v)
	}
	panic(fmt.Sprintf("string match %v not modelled", sm))
}

// findGateway: a Gateway selecting the gateway's pods, with a server on the target port whose hosts
// (namespace/host) accept the host.
func findGateway(o *istio.Output, ns string, labels map[string]string, port uint32, host string) *networkingv1.Gateway {
	for _, g := range o.Gateways {
		if g.Namespace != ns || !subset(g.Spec.Selector, labels) {
			continue
		}
		for _, s := range g.Spec.Servers {
			if s.Port.Number != port || s.Tls.GetMode() != netapi.ServerTLSSettings_ISTIO_MUTUAL {
				continue
			}
			for _, h := range s.Hosts {
				_, hp, _ := strings.Cut(h, "/")
				if hostMatches(hp, host) {
					return g
				}
			}
		}
	}
	return nil
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// authorized is Istio's evaluation: a matching DENY policy denies; with no ALLOW policy the request is
// allowed; otherwise a matching ALLOW policy is needed. Dry-run policies are only logged.
func authorized(o *istio.Output, ns string, labels map[string]string, rq request) bool {
	var allows []*secapi.AuthorizationPolicy
	for _, ap := range o.AuthorizationPolicies {
		if ap.Namespace != ns || ap.Annotations[istio.AnnotationDryRun] == "true" || !subset(ap.Spec.Selector.GetMatchLabels(), labels) {
			continue
		}
		spec := &ap.Spec
		switch spec.Action {
		case secapi.AuthorizationPolicy_DENY:
			if anyRule(spec.Rules, rq) {
				return false
			}
		case secapi.AuthorizationPolicy_ALLOW:
			allows = append(allows, spec)
		}
	}
	if len(allows) == 0 {
		return true
	}
	return slices.ContainsFunc(allows, func(p *secapi.AuthorizationPolicy) bool { return anyRule(p.Rules, rq) })
}

func anyRule(rules []*secapi.Rule, rq request) bool {
	return slices.ContainsFunc(rules, func(r *secapi.Rule) bool { return ruleMatches(r, rq) })
}

// ruleMatches: a rule matches when one of its sources, one of its operations and all its conditions do.
func ruleMatches(r *secapi.Rule, rq request) bool {
	principal := strings.TrimPrefix(rq.caller.String(), "spiffe://")
	if len(r.From) > 0 && !slices.ContainsFunc(r.From, func(f *secapi.Rule_From) bool {
		s := f.Source
		return (len(s.Principals) == 0 || anyMatch(s.Principals, principal, false)) &&
			!anyMatch(s.NotPrincipals, principal, false) &&
			(len(s.Namespaces) == 0 || anyMatch(s.Namespaces, rq.caller.Namespace, false))
	}) {
		return false
	}
	path, _, _ := strings.Cut(rq.path, "?")
	if len(r.To) > 0 && !slices.ContainsFunc(r.To, func(t *secapi.Rule_To) bool {
		op := t.Operation
		return (len(op.Hosts) == 0 || anyMatch(op.Hosts, rq.host, true)) &&
			!anyMatch(op.NotHosts, rq.host, true) &&
			(len(op.Methods) == 0 || slices.Contains(op.Methods, rq.method)) &&
			(len(op.Paths) == 0 || anyMatch(op.Paths, path, false))
	}) {
		return false
	}
	for _, c := range r.When {
		var v string
		var present bool
		switch {
		case c.Key == "source.principal":
			v, present = principal, true
		case strings.HasPrefix(c.Key, "request.headers["):
			v, present = rq.headers[strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(c.Key, "request.headers["), "]"))]
		default:
			panic("condition " + c.Key + " not modelled")
		}
		// For a header, "*" is Envoy's present_match: any value, even an empty one.
		if present && slices.Contains(c.Values, "*") {
			continue
		}
		if len(c.Values) > 0 && !(present && anyMatch(c.Values, v, false)) {
			return false
		}
		if present && anyMatch(c.NotValues, v, false) {
			return false
		}
	}
	return true
}

// anyMatch is Istio's string match: exact, "prefix*", "*suffix", or "*" for any non-empty value.
func anyMatch(patterns []string, v string, fold bool) bool {
	if fold {
		v = strings.ToLower(v)
	}
	for _, p := range patterns {
		if fold {
			p = strings.ToLower(p)
		}
		switch {
		case p == "*":
			if v != "" {
				return true
			}
		case strings.HasPrefix(p, "*"):
			if strings.HasSuffix(v, p[1:]) {
				return true
			}
		case strings.HasSuffix(p, "*"):
			if strings.HasPrefix(v, p[:len(p)-1]) {
				return true
			}
		case p == v:
			return true
		}
	}
	return false
}
