package translate

import (
	"fmt"
	"maps"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// serviceID names an ExternalService in the plan; one placed in a single cluster carries it, so that the
// same name in two clusters stays two services.
func serviceID(es *api.ExternalService) string {
	id := es.Metadata.Namespace + "/" + es.Metadata.Name
	if es.Metadata.ClusterName != "" {
		id += "@" + es.Metadata.ClusterName
	}
	return id
}

// services translates the ExternalServices, their endpoints and their egress routes.
func (t *translator) services() {
	for _, es := range t.snap.ExternalServices {
		if t.valid(es) {
			t.memoService(es, t.service)
		}
	}
}

// service translates one valid ExternalService: it appends it to the plan's services, its routes to the
// plan's routes, and warns on es only (memo.go relies on all three).
func (t *translator) service(es *api.ExternalService) {
	m := es.Metadata
	s := ir.ExternalService{
		ID:        serviceID(es),
		Name:      m.Name,
		Namespace: m.Namespace,
		Cluster:   m.ClusterName,
		Labels:    maps.Clone(m.Labels),
		Addresses: append([]string(nil), es.Spec.Addresses...),
	}
	selected := t.selectedEndpoints(es)
	if len(es.Spec.Selector) > 0 && len(selected) == 0 {
		t.warn(es, "spec.selector", "selects no ExternalEndpoint (selector %s); calls to this service get 503", selectorString(es.Spec.Selector))
	}
	s.Visibility = t.visibility(es)
	for hi, h := range es.Spec.Hosts {
		hp, err := ir.ParseHostPattern(h)
		if err != nil {
			t.warn(es, fmt.Sprintf("spec.hosts[%d]", hi), "%v; host skipped", err)
			continue
		}
		s.Hosts = append(s.Hosts, hp)
	}
	for pi, p := range es.Spec.Ports {
		sp := ir.ServicePort{Name: p.Name, Number: p.Number, Protocol: string(p.Protocol), TargetPort: p.Number}
		if p.TargetPort != nil {
			sp.TargetPort, sp.TargetPortName = p.TargetPort.Number, p.TargetPort.Name
		}
		sp.Endpoints, sp.NoEndpoints = t.portEndpoints(es, pi, selected)
		if c := p.ClientsideTLS; c != nil {
			sp.TLS = &ir.Origination{
				Mode:              string(c.Mode),
				SNI:               c.SNI,
				CACertificates:    c.CACertificates,
				ClientCertificate: c.ClientCertificate,
				PrivateKey:        c.PrivateKey,
				CredentialName:    c.CredentialName,
				SubjectAltNames:   append([]string(nil), c.SubjectAltNames...),
			}
			if sp.TLS.Mode == "" {
				sp.TLS.Mode = string(api.ClientTLSSimple)
			}
			if len(sp.TLS.SubjectAltNames) == 0 {
				sp.TLS.SubjectAltNames = append([]string(nil), es.Spec.SubjectAltNames...)
			}
			sp.TLS.InsecureSkipVerify = c.InsecureSkipVerify != nil && *c.InsecureSkipVerify
		}
		if r := p.EgressGatewayRoutes; r != nil {
			sp.PortMatch = cmpOrPort(r.PortMatch, 80)
			for _, h := range s.Hosts {
				t.plan.Routes = append(t.plan.Routes, ir.Route{
					Host:      h,
					PortMatch: sp.PortMatch,
					ServiceID: s.ID,
					Port:      p.Number,
					Targets:   t.routeTargets(es, pi, h),
				})
			}
		}
		s.Ports = append(s.Ports, sp)
	}
	t.plan.Services = append(t.plan.Services, s)
}

// routeTargets finds, for each virtualGatewayRef of port pi, the gateways that VirtualGateway selects (in the
// ref's cluster, if it names one) with a listener exposing host. A ref that yields none is a warning: the
// user meant traffic to flow there and it will not.
func (t *translator) routeTargets(es *api.ExternalService, pi int, host ir.HostPattern) []ir.GatewayTarget {
	var out []ir.GatewayTarget
	seen := map[string]bool{}
	for ri, ref := range es.Spec.Ports[pi].EgressGatewayRoutes.VirtualGatewayRefs {
		ns := cmpOr(ref.Namespace, es.Metadata.Namespace)
		vgID := ns + "/" + ref.Name
		found, unseen := 0, ""
		for gi := range t.plan.Gateways {
			gw := &t.plan.Gateways[gi]
			if ref.Cluster != "" && gw.Cluster != ref.Cluster {
				continue
			}
			if es.Metadata.ClusterName != "" && gw.Cluster != es.Metadata.ClusterName {
				continue
			}
			for li, al := range t.apiListeners[gw.ID] {
				l := gw.Listeners[li]
				if l.VirtualGateway != vgID || !exposes(al.l, al.vg.Metadata.Namespace, es, host) {
					continue
				}
				if !t.sees(al.vg, es) {
					unseen = t.workspaceText(al.vg)
					continue
				}
				found++
				key := fmt.Sprintf("%s:%d", gw.ID, l.Port)
				if !seen[key] {
					seen[key] = true
					out = append(out, ir.GatewayTarget{
						GatewayID: gw.ID, Cluster: gw.Cluster, ListenerPort: l.Port, TargetPort: l.TargetPort, Identity: gw.Identity,
					})
				}
				break // one listener per gateway is enough to carry the route
			}
		}
		if found == 0 && unseen != "" {
			t.warn(es, fmt.Sprintf("spec.ports[%d].egressGatewayRoutes.virtualGatewayRefs[%d]", pi, ri),
				"VirtualGateway %s is in %s, which does not see this service (export it to that workspace, and import it there)", vgID, unseen)
			continue
		}
		if found == 0 {
			where := ""
			if ref.Cluster != "" {
				where = " in " + ref.Cluster
			}
			t.warn(es, fmt.Sprintf("spec.ports[%d].egressGatewayRoutes.virtualGatewayRefs[%d]", pi, ri),
				"VirtualGateway %s exposes %s on no gateway%s", vgID, host, where)
		}
	}
	return out
}
