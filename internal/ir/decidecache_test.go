package ir

import (
	"reflect"
	"testing"
)

// cachePlan is samplePlan with rules that read the path and a header, and a mesh RouteTable that
// splits a host between two services by weight.
func cachePlan() *Plan {
	p := samplePlan()
	p.Policies[0].Rules = append(p.Policies[0].Rules,
		Rule{Clients: []ClientMatch{{ServiceAccount: "bookinfo-reviews"}}, Paths: []string{"/public*"}},
		Rule{Clients: []ClientMatch{{ServiceAccount: "bookinfo-ratings"}}, Headers: []HeaderMatch{{Name: "x-team", Values: []string{"ratings"}}}},
	)
	for _, h := range []string{"a", "b"} {
		p.Services = append(p.Services, ExternalService{ID: "bookinfo/" + h, Name: h, Namespace: "bookinfo",
			Hosts: []HostPattern{HostPattern(h + ".example.com")}, Ports: []ServicePort{{Name: "http", Number: 80, Protocol: "HTTP"}}})
	}
	p.Services = append(p.Services, ExternalService{ID: "bookinfo/split", Name: "split", Namespace: "bookinfo",
		Hosts: []HostPattern{"split.example.com"}, Ports: []ServicePort{{Name: "http", Number: 80, Protocol: "HTTP"}}})
	p.RouteTables = append(p.RouteTables, RouteTable{ID: "bookinfo/split", Hosts: []HostPattern{"split.example.com"}, Mesh: true, AllCallers: true,
		Routes: []HTTPRoute{{Name: "route[0]", Destinations: []RouteDestination{
			{ServiceID: "bookinfo/a", Port: 80, Weight: 50}, {ServiceID: "bookinfo/b", Port: 80, Weight: 50}}}}})
	return p.Compile()
}

// An attacker in the mesh who shares a host, a path or a method with an allowed caller, or who
// leaves out the header that allowed someone else, must get their own decision, never a remembered
// one: every request is asked of the cache twice (so the second answer may come from it), in an order
// where the allowed request is remembered first, and must match the plan's own decision.
func TestDecisionCacheNeverServesOneRequestsDecisionToAnother(t *testing.T) {
	p := cachePlan()
	c := NewDecisionCache(p)
	pp := NewSpiffeID("cluster1", "bookinfo", "bookinfo-productpage")
	rv := NewSpiffeID("cluster1", "bookinfo", "bookinfo-reviews")
	ra := NewSpiffeID("cluster1", "bookinfo", "bookinfo-ratings")
	other := NewSpiffeID("cluster2", "bookinfo", "bookinfo-productpage") // same names, another trust domain
	team := func(v string) Headers {
		return func(n string) []string {
			if n == "x-team" && v != "" {
				return []string{v}
			}
			return nil
		}
	}
	g := "www.google.com"
	tests := []struct {
		name  string
		req   Request
		allow bool
	}{
		{"productpage GET is allowed", Request{Source: pp, Host: g, Port: 80, Method: "GET", Path: "/"}, true},
		{"reviews on the same host, method and path is denied", Request{Source: rv, Host: g, Port: 80, Method: "GET", Path: "/"}, false},
		{"productpage's names from another trust domain are denied", Request{Source: other, Host: g, Port: 80, Method: "GET", Path: "/"}, false},
		{"reviews claiming productpage's text is still reviews", Request{Source: rv, SourceText: pp.String(), Host: g, Port: 80, Method: "GET", Path: "/"}, false},
		{"no identity at all is denied", Request{Host: g, Port: 80, Method: "GET", Path: "/"}, false},
		{"productpage POST is denied", Request{Source: pp, Host: g, Port: 80, Method: "POST", Path: "/"}, false},
		{"reviews on its public path is allowed", Request{Source: rv, Host: g, Port: 80, Method: "GET", Path: "/public/x"}, true},
		{"reviews on another path is denied", Request{Source: rv, Host: g, Port: 80, Method: "GET", Path: "/admin"}, false},
		{"ratings with its header is allowed", Request{Source: ra, Host: g, Port: 80, Method: "GET", Path: "/", Headers: team("ratings")}, true},
		{"ratings without the header is denied", Request{Source: ra, Host: g, Port: 80, Method: "GET", Path: "/"}, false},
		{"ratings with another value is denied", Request{Source: ra, Host: g, Port: 80, Method: "GET", Path: "/", Headers: team("reviews")}, false},
		{"productpage on another port is not routed", Request{Source: pp, Host: g, Port: 8080, Method: "GET", Path: "/"}, false},
		{"productpage to a host not in the registry is refused", Request{Source: pp, Host: "evil.example.com", Port: 80, Method: "GET", Path: "/"}, false},
		{"an opaque stream to the routed host is decided as one", Request{Source: pp, Host: g, Port: 80, Opaque: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := p.Decide(tc.req)
			for i := range 2 {
				got := c.Decide(tc.req)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("ask %d:\n got %+v\nwant %+v", i+1, got, want)
				}
				if got.Allow != tc.allow {
					t.Fatalf("ask %d: allow %v (%s), want %v", i+1, got.Allow, got.Reason, tc.allow)
				}
			}
		})
	}
}

// A weighted split is drawn per request: the cache never keeps one request's draw for the next.
func TestDecisionCacheDrawsEveryWeightedSplitAgain(t *testing.T) {
	p := cachePlan()
	c := NewDecisionCache(p)
	pp := NewSpiffeID("cluster1", "bookinfo", "bookinfo-productpage")
	seen := map[string]bool{}
	for _, pick := range []uint32{0, 99, 0, 99} {
		r := Request{Source: pp, Host: "split.example.com", Port: 80, Method: "GET", Path: "/", Pick: pick}
		got, want := c.Decide(r), p.Decide(r)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("pick %d:\n got %+v\nwant %+v", pick, got, want)
		}
		seen[got.Service] = true
	}
	if !seen["bookinfo/a"] || !seen["bookinfo/b"] {
		t.Errorf("services drawn %v, want both halves of the split", seen)
	}
}

// A cache belongs to one plan: a new config's plan starts with an empty one, and a full cache starts
// over rather than grow with the paths callers choose.
func TestDecisionCacheIsBoundedAndPerPlan(t *testing.T) {
	p := cachePlan()
	c := NewDecisionCache(p)
	rv := NewSpiffeID("cluster1", "bookinfo", "bookinfo-reviews")
	for i := range maxCachedDecisions + 10 {
		c.Decide(Request{Source: rv, Host: "www.google.com", Port: 80, Method: "GET", Path: "/public/" + string(rune('a'+i%26)) + string(rune(i))})
	}
	if n := len(c.m); n > maxCachedDecisions {
		t.Fatalf("%d decisions kept, want at most %d", n, maxCachedDecisions)
	}
	q := cachePlan()
	q.Policies = nil
	q = q.Compile()
	r := Request{Source: rv, Host: "www.google.com", Port: 80, Method: "GET", Path: "/admin"}
	if c.Decide(r).Allow || !NewDecisionCache(q).Decide(r).Allow {
		t.Error("want the old plan's cache to deny and the new plan's (no policy) to allow")
	}
}

// A field added to Request is something Decide may read: the cache's key must take it, or the cache
// would answer a request with another's decision. This test names every field the key accounts for.
func TestDecisionKeyAccountsForEveryRequestField(t *testing.T) {
	keyed := map[string]bool{ // in decisionKey, or never cached (Headers), or drawn again (Pick)
		"Source": true, "SourceText": true, "Cluster": true, "Host": true, "Port": true, "Method": true,
		"Path": true, "Gateway": true, "Opaque": true, "Headers": true, "Pick": true,
	}
	rt := reflect.TypeOf(Request{})
	for i := range rt.NumField() {
		if name := rt.Field(i).Name; !keyed[name] {
			t.Errorf("Request.%s is not in DecisionCache's key: add it to decisionKey (or say why it cannot change a decision)", name)
		}
	}
	if rt.NumField() != len(keyed) {
		t.Errorf("Request has %d fields, the key accounts for %d", rt.NumField(), len(keyed))
	}
}
