package proxyconfig

import "egret.dev/egret/internal/ir"

// SidecarServices is the registry as a sidecar needs it. A port with a portMatch is only ever reached
// through an egress gateway (ir.Decide never dials it directly), so the sidecar keeps what it decides and
// logs by (protocol, portMatch, the origination mode and SNI, why there are no endpoints) and not what
// only the gateway uses: the origination's CA, client certificate and private key, and the endpoint
// addresses. A compromised sidecar learns no gateway secret, and an endpoint change of a routed service
// reaches the gateways alone. Services are copied only when a port is trimmed.
func SidecarServices(services []ir.ExternalService) []ir.ExternalService {
	out := services
	copied := false
	for i := range services {
		if !hasGatewayOnly(&services[i]) {
			continue
		}
		if !copied {
			out = append([]ir.ExternalService(nil), services...)
			copied = true
		}
		s := &out[i]
		s.Ports = append([]ir.ServicePort(nil), s.Ports...)
		for j := range s.Ports {
			p := &s.Ports[j]
			if p.PortMatch == 0 {
				continue
			}
			p.Endpoints = nil
			if p.TLS != nil {
				p.TLS = &ir.Origination{Mode: p.TLS.Mode, SNI: p.TLS.SNI}
			}
		}
	}
	return out
}

func hasGatewayOnly(s *ir.ExternalService) bool {
	for _, p := range s.Ports {
		if p.PortMatch != 0 && (len(p.Endpoints) > 0 || gatewaySecrets(p.TLS)) {
			return true
		}
	}
	return false
}

func gatewaySecrets(o *ir.Origination) bool {
	return o != nil && (o.CACertificates != "" || o.ClientCertificate != "" || o.PrivateKey != "" || o.CredentialName != "" ||
		len(o.SubjectAltNames) > 0 || o.InsecureSkipVerify)
}
