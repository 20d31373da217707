package api

// Defaults from the seed's API (solo-apis gloo-mesh-v2.6.x) and egret's own kinds.
const (
	DefaultPortMatch        = 80
	DefaultGatewayNamespace = "gloo-mesh-gateways"
	DefaultSidecarListen    = "127.0.0.1:15001"
	// DefaultNamespace is where an object without metadata.namespace lives, as with kubectl.
	DefaultNamespace = "default"
)

// SetDefaults fills in the documented defaults of obj, in place. It runs after decoding and before
// validation, so validation and translation see the values the user meant.
func SetDefaults(obj Object) {
	if m := obj.GetMeta(); m.Namespace == "" && obj.GetKind() != KindMesh {
		m.Namespace = DefaultNamespace
	}
	switch o := obj.(type) {
	case *ExternalService:
		defaultExternalService(o)
	case *VirtualGateway:
		for i := range o.Spec.Listeners {
			defaultListener(&o.Spec.Listeners[i])
		}
	case *Workload:
		if o.Spec.Sidecar == nil {
			o.Spec.Sidecar = &SidecarSpec{}
		}
		if o.Spec.Sidecar.Mode == "" {
			o.Spec.Sidecar.Mode = SidecarExplicit
		}
	}
}

func defaultExternalService(o *ExternalService) {
	for i := range o.Spec.Ports {
		p := &o.Spec.Ports[i]
		if p.TargetPort == nil {
			p.TargetPort = &PortSelector{Number: p.Number}
		}
		if t := p.ClientsideTLS; t != nil {
			if t.Mode == "" {
				t.Mode = ClientTLSSimple
			}
			if t.SNI == "" && len(o.Spec.Hosts) == 1 && t.Mode != ClientTLSDisable {
				t.SNI = o.Spec.Hosts[0]
			}
		}
		if r := p.EgressGatewayRoutes; r != nil {
			if r.PortMatch == 0 {
				r.PortMatch = DefaultPortMatch
			}
			for j := range r.VirtualGatewayRefs {
				if r.VirtualGatewayRefs[j].Namespace == "" {
					r.VirtualGatewayRefs[j].Namespace = o.Metadata.Namespace
				}
			}
		}
	}
}

// defaultListener infers appProtocol the way the seed's API does: http → HTTP or HTTPS by TLS,
// tcp (or neither) → TCP or TLS.
func defaultListener(l *Listener) {
	if l.AppProtocol != "" {
		return
	}
	tls := l.TLS != nil
	switch {
	case l.HTTP != nil && tls:
		l.AppProtocol = "HTTPS"
	case l.HTTP != nil:
		l.AppProtocol = "HTTP"
	case tls:
		l.AppProtocol = "TLS"
	default:
		l.AppProtocol = "TCP"
	}
}
