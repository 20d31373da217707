package ir

import (
	"encoding/json"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// samplePlan is a small plan built by hand: one routed service, one direct wildcard service and a policy.
func samplePlan() *Plan {
	gwID := NewSpiffeID("cluster1", "gloo-mesh-gateways", "istio-egressgateway")
	return &Plan{
		Outbound:          RegistryOnly,
		AccessLogEncoding: "JSON",
		Clusters:          []Cluster{{Name: "cluster1", TrustDomain: "cluster1"}},
		Gateways: []Gateway{{ID: "cluster1/gloo-mesh-gateways/istio-egressgateway", Name: "istio-egressgateway",
			Namespace: "gloo-mesh-gateways", Cluster: "cluster1", Identity: gwID,
			ServicePorts: []GatewayPort{{Name: "https", Port: 443, TargetPort: 8443}},
			Listeners:    []Listener{{VirtualGateway: "bookinfo/egw", Port: 443, TargetPort: 8443, TLSMode: "ISTIO_MUTUAL", Protocol: "HTTPS"}}}},
		Services: []ExternalService{
			{ID: "bookinfo/google", Name: "google", Namespace: "bookinfo", Hosts: []HostPattern{"www.google.com"},
				Ports: []ServicePort{{Name: "https", Number: 443, Protocol: "HTTPS", TargetPort: 443, PortMatch: 80,
					TLS: &Origination{Mode: "SIMPLE", SNI: "www.google.com"}}}},
			{ID: "bookinfo/apis", Name: "apis", Namespace: "bookinfo", Hosts: []HostPattern{"*.googleapis.com"},
				Ports: []ServicePort{{Name: "tls", Number: 443, Protocol: "TLS", TargetPort: 443}}},
		},
		Routes: []Route{{Host: "www.google.com", PortMatch: 80, ServiceID: "bookinfo/google", Port: 443,
			Targets: []GatewayTarget{{GatewayID: "cluster1/gloo-mesh-gateways/istio-egressgateway", Cluster: "cluster1", ListenerPort: 443, TargetPort: 8443, Identity: gwID}}}},
		Policies: []Policy{{ID: "bookinfo/p", Name: "p", Namespace: "bookinfo", Targets: []PolicyTarget{{ServiceID: "bookinfo/google", Port: 443}},
			Rules: []Rule{{Clients: []ClientMatch{{ServiceAccount: "bookinfo-productpage"}}, Methods: []string{"GET"}}}}},
		Workloads: []Workload{{Name: "productpage", Namespace: "bookinfo", Cluster: "cluster1", ServiceAccount: "bookinfo-productpage",
			Identity: NewSpiffeID("cluster1", "bookinfo", "bookinfo-productpage")}},
	}
}

func sampleRequests() []Request {
	pp := NewSpiffeID("cluster1", "bookinfo", "bookinfo-productpage")
	rv := NewSpiffeID("cluster1", "bookinfo", "bookinfo-reviews")
	return []Request{
		{Source: pp, Host: "www.google.com", Port: 80, Method: "GET", Path: "/"},
		{Source: pp, Host: "www.google.com", Port: 80, Method: "POST", Path: "/"},
		{Source: rv, Host: "www.google.com", Port: 80, Method: "GET", Path: "/"},
		{Source: rv, Host: "x.googleapis.com", Port: 443, Opaque: true},
		{Source: rv, Host: "example.org", Port: 443, Opaque: true},
	}
}

// A plan that travels to a proxy as JSON or YAML must decide exactly as the original does.
func TestPlanSurvivesSerialization(t *testing.T) {
	orig := samplePlan().Compile()
	codecs := []struct {
		name      string
		marshal   func(any) ([]byte, error)
		unmarshal func([]byte, any) error
	}{
		{name: "json", marshal: json.Marshal, unmarshal: json.Unmarshal},
		{name: "yaml", marshal: yaml.Marshal, unmarshal: yaml.Unmarshal},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.marshal(orig)
			if err != nil {
				t.Fatal(err)
			}
			var back Plan
			if err := c.unmarshal(b, &back); err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			back.Compile()
			for _, r := range sampleRequests() {
				if got, want := back.Decide(r), orig.Decide(r); !reflect.DeepEqual(got, want) {
					t.Errorf("%+v:\n got %+v\nwant %+v", r, got, want)
				}
			}
		})
	}
}

// An uncompiled plan decides the same as a compiled one (it only builds a private index each time).
func TestUncompiledPlanDecidesTheSame(t *testing.T) {
	compiled := samplePlan().Compile()
	raw := samplePlan()
	for _, r := range sampleRequests() {
		if got, want := raw.Decide(r), compiled.Decide(r); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v:\n got %+v\nwant %+v", r, got, want)
		}
	}
}

func TestDecideSamplePlan(t *testing.T) {
	p := samplePlan().Compile()
	reqs := sampleRequests()
	tests := []struct {
		name   string
		req    Request
		allow  bool
		kind   Kind
		reason string
	}{
		{name: "allowed GET is routed", req: reqs[0], allow: true, kind: KindRouted,
			reason: "AccessPolicy bookinfo/p allows spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage to ExternalService bookinfo/google port 443"},
		{name: "POST is denied", req: reqs[1], kind: KindDenied,
			reason: "no rule of AccessPolicy bookinfo/p allows spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage: method POST is not one of GET"},
		{name: "another caller is denied", req: reqs[2], kind: KindDenied,
			reason: "no rule of AccessPolicy bookinfo/p allows spiffe://cluster1/ns/bookinfo/sa/bookinfo-reviews"},
		{name: "wildcard service without policy is direct", req: reqs[3], allow: true, kind: KindDirect,
			reason: "no AccessPolicy restricts ExternalService bookinfo/apis port 443; any caller is allowed"},
		{name: "unknown host is not in the registry", req: reqs[4], kind: KindNotInRegistry,
			reason: "example.org:443 is not in the registry (outboundTrafficPolicy REGISTRY_ONLY)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.req)
			if d.Allow != tt.allow || d.Kind != tt.kind || d.Reason != tt.reason {
				t.Fatalf("got %v %s %q, want %v %s %q", d.Allow, d.Kind, d.Reason, tt.allow, tt.kind, tt.reason)
			}
		})
	}
}

func TestDecideByAddress(t *testing.T) {
	p := &Plan{
		Outbound: RegistryOnly,
		Clusters: []Cluster{{Name: "c1", TrustDomain: "c1"}},
		Services: []ExternalService{{ID: "db/pg", Name: "pg", Namespace: "db", Addresses: []string{"192.0.2.10", "198.51.100.0/24"},
			Ports: []ServicePort{{Name: "pg", Number: 5432, Protocol: "TCP", TargetPort: 5432}}}},
	}
	p.Compile()
	caller := NewSpiffeID("c1", "app", "api")
	if d := p.Decide(Request{Source: caller, Host: "192.0.2.10", Port: 5432, Opaque: true}); !d.Allow || d.Kind != KindDirect || d.Upstream != "192.0.2.10:5432" {
		t.Fatalf("single address: %+v", d)
	}
	if d := p.Decide(Request{Source: caller, Host: "198.51.100.7", Port: 5432, Opaque: true}); d.Allow || d.Kind != KindNotInRegistry {
		t.Fatalf("a CIDR is not matched yet: %+v", d)
	}
}
