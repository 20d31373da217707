package api

import "fmt"

// references checks that every virtualGatewayRef names a VirtualGateway.
func (v *validator) references(s *Snapshot) {
	vgs := map[string]bool{}
	for _, g := range s.VirtualGateways {
		vgs[g.Metadata.Namespace+"/"+g.Metadata.Name] = true
	}
	for _, es := range s.ExternalServices {
		v.obj = es
		for i, p := range es.Spec.Ports {
			if p.EgressGatewayRoutes == nil {
				continue
			}
			for j, ref := range p.EgressGatewayRoutes.VirtualGatewayRefs {
				if ref.Name == "" || vgs[ref.Namespace+"/"+ref.Name] {
					continue
				}
				v.errorf(fmt.Sprintf("spec.ports[%d].egressGatewayRoutes.virtualGatewayRefs[%d]", i, j),
					"VirtualGateway %s/%s does not exist", ref.Namespace, ref.Name)
			}
		}
	}
}

// meshSettings checks that the mesh-wide settings agree wherever they are written.
func (v *validator) meshSettings(s *Snapshot) {
	if len(s.Meshes) > 1 {
		v.obj = s.Meshes[1]
		src := s.Meshes[0].GetSource()
		v.errorf("metadata.name", "only one Mesh may exist; another is at %s:%d", src.File, src.Line)
	}
	modes := &agreement{name: "outboundTrafficPolicy"}
	encodings := &agreement{name: "access log encoding"}
	for _, m := range s.Meshes {
		if t := m.Spec.OutboundTrafficPolicy; t != nil && t.Mode != "" {
			modes.add(v, string(t.Mode), m, "spec.outboundTrafficPolicy.mode")
		}
		if a := m.Spec.AccessLog; a != nil && a.Encoding != "" {
			encodings.add(v, string(a.Encoding), m, "spec.accessLog.encoding")
		}
	}
	for _, ilm := range s.IstioLifecycleManagers {
		for i, inst := range ilm.Spec.Installations {
			spec := inst.IstioOperatorSpec
			if spec == nil || spec.MeshConfig == nil {
				continue
			}
			p := fmt.Sprintf("spec.installations[%d].istioOperatorSpec.meshConfig", i)
			if t := spec.MeshConfig.OutboundTrafficPolicy; t != nil && t.Mode != "" {
				modes.add(v, string(t.Mode), ilm, p+".outboundTrafficPolicy.mode")
			}
			if e := spec.MeshConfig.AccessLogEncoding; e != "" {
				encodings.add(v, string(e), ilm, p+".accessLogEncoding")
			}
		}
	}
}

// agreement reports a mesh-wide setting written twice with different values.
type agreement struct {
	name        string
	first       string
	firstObj    Object
	firstSource Source
}

func (a *agreement) add(v *validator, value string, o Object, path string) {
	if a.firstObj == nil {
		a.first, a.firstObj, a.firstSource = value, o, o.GetSource().At(path)
		return
	}
	if value != a.first {
		v.obj = o
		v.errorf(path, "%s %s conflicts with %s set by %s at %s:%d; the mesh has one %s",
			a.name, value, a.first, Ref(a.firstObj), a.firstSource.File, a.firstSource.Line, a.name)
	}
}
