package gateway

import (
	"fmt"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/proxyconfig"
)

// A wildcard service builds one transport per requested host, and every config version its own: the
// gateway keeps at most maxUpstreams of them, and only those of the config in force.
func TestUpstreamTransportsAreBoundedAndRetiredWithTheirConfig(t *testing.T) {
	svc := ir.ExternalService{ID: "apps/wild", Name: "wild", Namespace: "apps",
		Hosts: []ir.HostPattern{"*.example.com"}, Ports: []ir.ServicePort{{Name: "http", Number: 80, Protocol: "HTTP", TargetPort: 80}}}
	stateOf := func(version string) *state {
		return newState(&proxyconfig.Gateway{Version: version, Plan: ir.Plan{Services: []ir.ExternalService{svc}}})
	}
	u := NewUpstream(UpstreamParams{})
	v1 := stateOf("v1")
	for i := range maxUpstreams + 500 {
		d := ir.Decision{Service: svc.ID, ServicePort: 80, Host: fmt.Sprintf("h%d.example.com", i)}
		if _, err := u.forService(v1, d); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(u.cache); n > maxUpstreams {
		t.Fatalf("%d transports for one wildcard service, want at most %d", n, maxUpstreams)
	}
	if _, err := u.forService(stateOf("v2"), ir.Decision{Service: svc.ID, ServicePort: 80, Host: "a.example.com"}); err != nil {
		t.Fatal(err)
	}
	for k := range u.cache {
		if k.version != "v2" {
			t.Fatalf("a transport of config %s outlived the change to v2 (%d kept)", k.version, len(u.cache))
		}
	}
	if len(u.cache) != 1 {
		t.Fatalf("%d transports after the change, want the new config's one", len(u.cache))
	}
}
