package api

import (
	"fmt"
	"net/netip"
	"strings"
)

func (v *validator) virtualGateway(o *VirtualGateway) {
	for i, w := range o.Spec.Workloads {
		p := fmt.Sprintf("spec.workloads[%d]", i)
		v.selector(p+".selector", w.Selector)
		if w.Kind == "VM" {
			v.errorf(p+".kind", "VM gateway workloads are not supported; egret's gateways are the GatewayLifecycleManager's")
		}
	}
	if len(o.Spec.Listeners) == 0 {
		v.errorf("spec.listeners", "required: at least one listener")
	}
	seen := map[uint32]int{}
	for i, l := range o.Spec.Listeners {
		p := fmt.Sprintf("spec.listeners[%d]", i)
		switch {
		case l.Port.Number == 0 && l.Port.Name != "":
			v.errorf(p+".port", "egret needs port.number (the gateway service port, e.g. 443); port names are not supported")
		case l.Port.Number == 0:
			v.errorf(p+".port.number", "required")
		default:
			v.port(p+".port.number", l.Port.Number)
			if j, dup := seen[l.Port.Number]; dup {
				v.errorf(p+".port.number", "port %d is already used by spec.listeners[%d]", l.Port.Number, j)
			}
			seen[l.Port.Number] = i
		}
		if l.HTTP != nil && l.TCP != nil {
			v.errorf(p, "set http or tcp, not both")
		}
		if l.TLS == nil || l.TLS.Mode != ServerTLSIstioMutual {
			mode := "no tls"
			if l.TLS != nil {
				mode = "tls.mode " + string(l.TLS.Mode)
				if l.TLS.Mode == "" {
					mode = "tls.mode PASSTHROUGH (the default)"
				}
			}
			v.errorf(p+".tls.mode", "egret's egress gateway listeners need tls.mode ISTIO_MUTUAL, so that every caller is identified by its mesh certificate; got %s", mode)
		} else if l.TLS.SecretName != "" || l.TLS.Files != nil {
			v.errorf(p+".tls", "ISTIO_MUTUAL uses workload certificates: secretName and files must be unset")
		}
		v.appProtocol(p, l)
		for j, e := range l.ExposedExternalServices {
			ep := fmt.Sprintf("%s.exposedExternalServices[%d]", p, j)
			if msg := checkHostFilter(e.Host); msg != "" {
				v.errorf(ep+".host", "%s", msg)
			}
			v.selector(ep+".selector", e.Selector)
		}
		if len(l.AllowedRouteTables) > 0 {
			v.warnf(p+".allowedRouteTables", "ignored: egret's gateways serve egress only (exposedExternalServices)")
		}
	}
}

// appProtocol applies the seed API's rules tying appProtocol to http/tcp and tls.
func (v *validator) appProtocol(p string, l Listener) {
	ap, tls := string(l.AppProtocol), l.TLS != nil
	var allowed []string
	switch {
	case l.HTTP != nil && tls:
		allowed = []string{"HTTPS"}
	case l.HTTP != nil:
		allowed = []string{"GRPC", "GRPC-WEB", "HTTP", "HTTP_PROXY", "HTTP2"}
	case tls:
		allowed = []string{"TLS"}
	default:
		allowed = []string{"TCP", "MONGO", "REDIS", "MYSQL"}
	}
	if ap != "" && !contains(allowed, ap) {
		v.errorf(p+".appProtocol", "%s does not fit this listener (http: %v, tls: %v); use %s", ap, l.HTTP != nil, tls, strings.Join(allowed, " or "))
	}
}

func (v *validator) externalService(o *ExternalService) {
	s := o.Spec
	v.externalServiceHosts(s)
	v.externalServicePorts(s)
	for i, san := range s.SubjectAltNames {
		if san == "" {
			v.errorf(fmt.Sprintf("spec.subjectAltNames[%d]", i), "must not be empty")
		}
	}
	for k := range s.Selector {
		if msg := checkLabelKey(k); msg != "" {
			v.errorf("spec.selector."+k, "%s", msg)
		}
	}
}

// externalServiceHosts checks the names or addresses an ExternalService stands for.
func (v *validator) externalServiceHosts(s ExternalServiceSpec) {
	switch {
	case len(s.Hosts) == 0 && len(s.Addresses) == 0:
		v.errorf("spec.hosts", "required: set hosts (names) or addresses (IPs or CIDRs)")
	case len(s.Hosts) > 0 && len(s.Addresses) > 0:
		v.errorf("spec.addresses", "set hosts or addresses, not both")
	}
	for i, h := range s.Hosts {
		if msg := checkHost(h); msg != "" {
			v.errorf(fmt.Sprintf("spec.hosts[%d]", i), "%s", msg)
		}
	}
	for i, a := range s.Addresses {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				v.errorf(fmt.Sprintf("spec.addresses[%d]", i), "%q is not an IP address or CIDR", a)
			}
		}
	}
}

// externalServicePorts checks each port, its TLS origination and its egress gateway routes.
func (v *validator) externalServicePorts(s ExternalServiceSpec) {
	if len(s.Ports) == 0 {
		v.errorf("spec.ports", "required: at least one port")
	}
	numbers := map[uint32]int{}
	for i, p := range s.Ports {
		numbers[p.Number] = i
	}
	portMatches := map[uint32]int{}
	names := map[string]int{}
	for i, p := range s.Ports {
		pp := fmt.Sprintf("spec.ports[%d]", i)
		v.port(pp+".number", p.Number)
		if p.Name != "" {
			if j, dup := names[p.Name]; dup {
				v.errorf(pp+".name", "%q is already the name of spec.ports[%d]", p.Name, j)
			}
			names[p.Name] = i
		}
		if p.Protocol == "" {
			v.errorf(pp+".protocol", "required (one of %s)", strings.Join(Protocol("").EnumValues(), ", "))
		}
		if p.TargetPort != nil && p.TargetPort.Number != 0 {
			v.port(pp+".targetPort.number", p.TargetPort.Number)
		}
		if p.TargetPort != nil && p.TargetPort.Name != "" && len(s.Selector) == 0 {
			v.errorf(pp+".targetPort.name", "a port name needs ExternalEndpoints (spec.selector) to name it")
		}
		v.clientTLS(pp+".clientsideTls", p.ClientsideTLS)
		if p.EgressGatewayRoutes != nil {
			v.egressGatewayRoutes(pp+".egressGatewayRoutes", s, i, numbers, portMatches)
		}
	}
}

// egressGatewayRoutes checks the egress gateway routes of s.Ports[i] at rp. numbers maps each port
// number to its index; portMatches collects each portMatch seen so far, by the index of its port.
func (v *validator) egressGatewayRoutes(rp string, s ExternalServiceSpec, i int, numbers, portMatches map[uint32]int) {
	p := s.Ports[i]
	r := p.EgressGatewayRoutes
	switch p.Protocol {
	case ProtocolHTTP, ProtocolHTTP2, ProtocolHTTPS:
	case "":
	default:
		v.errorf(rp, "egress gateway routes are supported only on HTTP, HTTP2 and HTTPS ports, not %s", p.Protocol)
	}
	if len(s.Hosts) == 0 {
		v.errorf(rp, "egress gateway routes need spec.hosts (not addresses)")
	}
	v.port(rp+".portMatch", r.PortMatch)
	if j, dup := portMatches[r.PortMatch]; dup {
		v.errorf(rp+".portMatch", "%d is already the portMatch of spec.ports[%d]", r.PortMatch, j)
	}
	portMatches[r.PortMatch] = i
	if j, clash := numbers[r.PortMatch]; clash && j != i && s.Ports[j].EgressGatewayRoutes == nil {
		v.errorf(rp+".portMatch", "%d is also the number of spec.ports[%d], which has no egress gateway route: requests to it would bypass the gateway", r.PortMatch, j)
	}
	if len(r.VirtualGatewayRefs) == 0 {
		v.errorf(rp+".virtualGatewayRefs", "required: name at least one VirtualGateway")
	}
	for j, ref := range r.VirtualGatewayRefs {
		fp := fmt.Sprintf("%s.virtualGatewayRefs[%d]", rp, j)
		if ref.Name == "" {
			v.errorf(fp+".name", "required")
		}
		if ref.Cluster != "" {
			v.cluster(fp+".cluster", ref.Cluster)
		}
	}
}

func (v *validator) clientTLS(p string, t *ClientTLS) {
	if t == nil {
		return
	}
	switch t.Mode {
	case ClientTLSMutual:
		if t.CredentialName == "" && (t.ClientCertificate == "" || t.PrivateKey == "") {
			v.errorf(p, "mode MUTUAL needs clientCertificate and privateKey (file paths on the gateway)")
		}
	case ClientTLSIstioMutual:
		if t.ClientCertificate != "" || t.PrivateKey != "" || t.CACertificates != "" {
			v.errorf(p, "mode ISTIO_MUTUAL uses mesh certificates: clientCertificate, privateKey and caCertificates must be unset")
		}
	case ClientTLSSimple:
		if t.ClientCertificate != "" || t.PrivateKey != "" {
			v.warnf(p, "clientCertificate and privateKey are used only with mode MUTUAL")
		}
	}
	if t.CredentialName != "" {
		v.errorf(p+".credentialName", "not supported: egret reads certificates from files (clientCertificate, privateKey, caCertificates)")
	}
	if t.InsecureSkipVerify != nil && *t.InsecureSkipVerify {
		if t.CACertificates != "" {
			v.warnf(p+".insecureSkipVerify", "the external host's certificate is NOT verified; caCertificates is ignored")
		} else {
			v.warnf(p+".insecureSkipVerify", "the external host's certificate is NOT verified")
		}
	}
}

func (v *validator) externalEndpoint(o *ExternalEndpoint) {
	a := o.Spec.Address
	switch {
	case a == "":
		v.errorf("spec.address", "required")
	case strings.HasPrefix(a, "unix://"):
		v.errorf("spec.address", "unix socket addresses are not supported")
	default:
		if _, err := netip.ParseAddr(a); err != nil {
			if msg := checkHost(a); msg != "" || strings.HasPrefix(a, "*") {
				v.errorf("spec.address", "%q is neither an IP address nor a host name", a)
			}
		}
	}
	for i, p := range o.Spec.Ports {
		pp := fmt.Sprintf("spec.ports[%d]", i)
		v.port(pp+".number", p.Number)
		if p.Name == "" && len(o.Spec.Ports) > 1 {
			v.errorf(pp+".name", "required when there is more than one port")
		}
	}
	v.endpointAddress(o)
}
