package proxyconfig

import (
	"testing"

	"egret.dev/egret/internal/ir"
)

func TestSidecarServicesLeaveGatewaySecretsOut(t *testing.T) {
	secret := &ir.Origination{Mode: "MUTUAL", SNI: "api.example.com", CACertificates: "CA", ClientCertificate: "CERT", PrivateKey: "KEY"}
	eps := []ir.UpstreamEndpoint{{Address: "api-backend.test:9443"}} // config data: never dialled
	in := []ir.ExternalService{{ID: "ns/api", Ports: []ir.ServicePort{
		{Number: 443, PortMatch: 80, TLS: secret, Endpoints: eps},          // routed: the gateway originates
		{Number: 8443, TLS: secret, Endpoints: eps},                        // direct: the sidecar originates
		{Number: 9443, PortMatch: 81, NoEndpoints: "no endpoint selected"}, // its refusal is the sidecar's
	}}}
	out := SidecarServices(in)
	tests := []struct {
		name string
		port ir.ServicePort
		want func(ir.ServicePort) bool
	}{
		{"a routed port keeps the origination mode and SNI only", out[0].Ports[0], func(p ir.ServicePort) bool {
			return p.TLS.Mode == "MUTUAL" && p.TLS.SNI == "api.example.com" && !gatewaySecrets(p.TLS) && p.Endpoints == nil
		}},
		{"a direct port keeps everything the sidecar dials with", out[0].Ports[1], func(p ir.ServicePort) bool {
			return p.TLS == secret && len(p.Endpoints) == 1
		}},
		{"why a routed port has no endpoints is kept", out[0].Ports[2], func(p ir.ServicePort) bool {
			return p.NoEndpoints == "no endpoint selected"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.want(tc.port) {
				t.Errorf("port %d: %+v (tls %+v)", tc.port.Number, tc.port, tc.port.TLS)
			}
		})
	}
	if in[0].Ports[0].TLS.PrivateKey != "KEY" || len(in[0].Ports[0].Endpoints) != 1 {
		t.Error("the plan itself was changed")
	}
}
