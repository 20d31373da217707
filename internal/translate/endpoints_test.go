package translate

import (
	"slices"
	"strings"
	"testing"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// endpoint is an ExternalEndpoint in bookinfo labelled app=api (documentation addresses: nothing is dialled).
func endpoint(name, address string, ports ...api.EndpointPort) *api.ExternalEndpoint {
	ee := &api.ExternalEndpoint{
		Header: hdr(api.NetworkingV2, api.KindExternalEndpoint, "bookinfo", name),
		Spec:   api.ExternalEndpointSpec{Address: address, Ports: ports},
	}
	ee.Metadata.Labels = map[string]string{"app": "api"}
	return ee
}

// selecting is a directly called ExternalService api.example.com:443 selecting app=api, with a target port.
func selecting(target *api.PortSelector) *api.ExternalService {
	if target == nil {
		target = &api.PortSelector{Number: 443} // what the defaults fill in when targetPort is omitted
	}
	return &api.ExternalService{
		Header: hdr(api.NetworkingV2, api.KindExternalService, "bookinfo", "api"),
		Spec: api.ExternalServiceSpec{
			Hosts:    []string{"api.example.com"},
			Selector: map[string]string{"app": "api"},
			Ports: []api.ServicePort{{
				Name: "https", Number: 443, Protocol: api.ProtocolTLS, TargetPort: target,
			}},
		},
	}
}

func TestServicePortEndpoints(t *testing.T) {
	tests := []struct {
		name      string
		target    *api.PortSelector
		endpoints []*api.ExternalEndpoint
		want      []string // address:port of the port's endpoints
		kind      ir.Kind
		reason    string // substring of the decision's reason
		warnings  []string
	}{
		{
			name:   "a named target port picks the endpoint port of that name",
			target: &api.PortSelector{Name: "tls"},
			endpoints: []*api.ExternalEndpoint{
				endpoint("a", "203.0.113.1", api.EndpointPort{Name: "tls", Number: 9443}, api.EndpointPort{Name: "http", Number: 9080}),
				endpoint("b", "203.0.113.2", api.EndpointPort{Name: "tls", Number: 8443}),
			},
			want: []string{"203.0.113.1:9443", "203.0.113.2:8443"},
			kind: ir.KindDirect,
		},
		{
			name:   "a numeric target port picks the endpoint port of that number",
			target: &api.PortSelector{Number: 8443},
			endpoints: []*api.ExternalEndpoint{
				endpoint("a", "203.0.113.1", api.EndpointPort{Name: "tls", Number: 8443}, api.EndpointPort{Name: "http", Number: 80}),
			},
			want: []string{"203.0.113.1:8443"},
			kind: ir.KindDirect,
		},
		{
			name:      "no target port dials the service port's own number, also on an endpoint that lists no ports",
			endpoints: []*api.ExternalEndpoint{endpoint("a", "203.0.113.1", api.EndpointPort{Number: 443}), endpoint("b", "api-b.internal")},
			want:      []string{"203.0.113.1:443", "api-b.internal:443"},
			kind:      ir.KindDirect,
		},
		{
			name:      "no target port also takes an endpoint port named like the service port, as Istio does",
			endpoints: []*api.ExternalEndpoint{endpoint("a", "203.0.113.1", api.EndpointPort{Name: "https", Number: 9443})},
			want:      []string{"203.0.113.1:9443"},
			kind:      ir.KindDirect,
		},
		{
			name:   "an endpoint lacking the named port is skipped with a warning naming it",
			target: &api.PortSelector{Name: "tls"},
			endpoints: []*api.ExternalEndpoint{
				endpoint("a", "203.0.113.1", api.EndpointPort{Name: "tls", Number: 9443}),
				endpoint("b", "203.0.113.2", api.EndpointPort{Name: "http", Number: 80}),
			},
			want:     []string{"203.0.113.1:9443"},
			kind:     ir.KindDirect,
			warnings: []string{`ExternalEndpoint bookinfo/b has no port named "tls" (its ports: http=80); endpoint skipped for port 443`},
		},
		{
			name:      "when every selected endpoint lacks the port, calls get NoEndpoints",
			target:    &api.PortSelector{Name: "tls"},
			endpoints: []*api.ExternalEndpoint{endpoint("b", "203.0.113.2", api.EndpointPort{Name: "http", Number: 80})},
			kind:      ir.KindNoEndpoints,
			reason:    `ExternalService bookinfo/api selects no ExternalEndpoint with port named "tls" for port 443 (selector app=api)`,
			warnings: []string{
				`ExternalEndpoint bookinfo/b has no port named "tls"`,
				`no selected ExternalEndpoint has port named "tls"; calls to port 443 get 503`,
			},
		},
		{
			name:     "a selector that matches no endpoint is a warning and calls get NoEndpoints",
			kind:     ir.KindNoEndpoints,
			reason:   "ExternalService bookinfo/api selects no ExternalEndpoint (selector app=api)",
			warnings: []string{"spec.selector: selects no ExternalEndpoint (selector app=api); calls to this service get 503"},
		},
		{
			name:      "the link-local opt-in travels with the endpoint",
			endpoints: []*api.ExternalEndpoint{optIn(endpoint("meta", "169.254.169.254"))},
			want:      []string{"169.254.169.254:443"},
			kind:      ir.KindDirect,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &api.Snapshot{}
			s.Add(selecting(tc.target))
			for _, ee := range tc.endpoints {
				s.Add(ee)
			}
			res := Translate(s)
			if res.Invalid() {
				t.Fatalf("invalid input: %v", res.Problems())
			}
			sp := res.Plan.Services[0].Ports[0]
			if got := ir.EndpointAddresses(sp.Endpoints); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("endpoints %v, want %v", got, tc.want)
			}
			var warns []string
			for _, p := range res.Problems() {
				warns = append(warns, p.Error())
			}
			for _, w := range tc.warnings {
				if !slices.ContainsFunc(warns, func(got string) bool { return strings.Contains(got, w) }) {
					t.Errorf("no warning containing %q in %q", w, warns)
				}
			}
			if len(tc.warnings) == 0 && len(warns) > 0 {
				t.Errorf("unexpected problems %q", warns)
			}
			d := res.Plan.Decide(ir.Request{Host: "api.example.com", Port: 443, Opaque: true})
			if d.Kind != tc.kind || (tc.kind == ir.KindNoEndpoints) == d.Allow {
				t.Fatalf("decision %s allow=%v (%s), want %s", d.Kind, d.Allow, d.Reason, tc.kind)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tc.reason)
			}
			if got := ir.EndpointAddresses(d.Endpoints); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("decision endpoints %v, want %v", got, tc.want)
			}
			for _, e := range d.Endpoints {
				if e.AllowLinkLocal != (e.Endpoint == "bookinfo/meta") {
					t.Errorf("endpoint %s allowLinkLocal=%v", e.Endpoint, e.AllowLinkLocal)
				}
			}
		})
	}
}

func optIn(ee *api.ExternalEndpoint) *api.ExternalEndpoint {
	ee.Metadata.Annotations = map[string]string{api.AnnotationAllowLinkLocal: "true"}
	return ee
}

func TestADeniedCallerIsDeniedBeforeNoEndpoints(t *testing.T) {
	s := seedSnapshot()
	g := s.ExternalServices[0]
	g.Spec.Selector = map[string]string{"app": "none"}
	res := Translate(s)
	d := res.Plan.Decide(ir.Request{Source: id(reviews), Host: "www.google.com", Port: 80, Method: "GET", Path: "/"})
	if d.Kind != ir.KindDenied {
		t.Errorf("reviews got %s, want Denied: an empty endpoint list must not change who is refused", d.Kind)
	}
	d = res.Plan.Decide(ir.Request{Source: id(productpage), Host: "www.google.com", Port: 80, Method: "GET", Path: "/"})
	if d.Kind != ir.KindNoEndpoints || d.Allow || len(d.Targets) != 0 {
		t.Errorf("productpage got %s allow=%v targets=%v, want NoEndpoints, not allowed, no gateway", d.Kind, d.Allow, d.Targets)
	}
}
