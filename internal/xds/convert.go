package xds

import (
	"fmt"

	"egret.dev/egret/internal/ir"
	pb "egret.dev/egret/internal/xds/configv1"
)

// This file converts between the plan (internal/ir) and egret's xDS resources (configv1), field by field.
// Every ir field has a protobuf field: a round trip returns the same plan (TestResourcesRoundTrip).

func meshToPB(p *ir.Plan) *pb.Mesh {
	m := &pb.Mesh{Outbound: string(p.Outbound), AccessLogEncoding: p.AccessLogEncoding}
	for _, c := range p.Clusters {
		m.Clusters = append(m.Clusters, &pb.Cluster{Name: c.Name, TrustDomain: c.TrustDomain})
	}
	for _, w := range p.Workspaces {
		pw := &pb.Workspace{Name: w.Name}
		for _, mm := range w.Members {
			pw.Members = append(pw.Members, &pb.WorkspaceMember{Cluster: mm.Cluster, Namespace: mm.Namespace})
		}
		m.Workspaces = append(m.Workspaces, pw)
	}
	return m
}

func meshFromPB(m *pb.Mesh, p *ir.Plan) {
	p.Outbound, p.AccessLogEncoding = ir.OutboundMode(m.GetOutbound()), m.GetAccessLogEncoding()
	for _, c := range m.GetClusters() {
		p.Clusters = append(p.Clusters, ir.Cluster{Name: c.GetName(), TrustDomain: c.GetTrustDomain()})
	}
	for _, w := range m.GetWorkspaces() {
		iw := ir.Workspace{Name: w.GetName()}
		for _, mm := range w.GetMembers() {
			iw.Members = append(iw.Members, ir.WorkspaceMember{Cluster: mm.GetCluster(), Namespace: mm.GetNamespace()})
		}
		p.Workspaces = append(p.Workspaces, iw)
	}
}

func serviceToPB(s *ir.ExternalService, routes []ir.Route, order []byte) *pb.ExternalService {
	o := &pb.ExternalService{Id: s.ID, Name: s.Name, Namespace: s.Namespace, Cluster: s.Cluster, Labels: s.Labels,
		Hosts: hostsToPB(s.Hosts), Addresses: s.Addresses, OrderKey: order}
	for _, sp := range s.Ports {
		p := &pb.ServicePort{Name: sp.Name, Number: sp.Number, Protocol: sp.Protocol, TargetPort: sp.TargetPort,
			TargetPortName: sp.TargetPortName, PortMatch: sp.PortMatch, NoEndpoints: sp.NoEndpoints}
		if t := sp.TLS; t != nil {
			p.Tls = &pb.Origination{Mode: t.Mode, Sni: t.SNI, CaCertificates: t.CACertificates, ClientCertificate: t.ClientCertificate,
				PrivateKey: t.PrivateKey, CredentialName: t.CredentialName, SubjectAltNames: t.SubjectAltNames, InsecureSkipVerify: t.InsecureSkipVerify}
		}
		for _, e := range sp.Endpoints {
			p.Endpoints = append(p.Endpoints, &pb.UpstreamEndpoint{Address: e.Address, Endpoint: e.Endpoint, AllowLinkLocal: e.AllowLinkLocal})
		}
		o.Ports = append(o.Ports, p)
	}
	for _, v := range s.Visibility {
		o.Visibility = append(o.Visibility, &pb.Visibility{Workspace: v.Workspace, Via: v.Via})
	}
	for _, r := range routes {
		o.Routes = append(o.Routes, &pb.Route{Host: string(r.Host), PortMatch: r.PortMatch, Service: r.ServiceID, Port: r.Port, Targets: targetsToPB(r.Targets)})
	}
	return o
}

func serviceFromPB(o *pb.ExternalService) (ir.ExternalService, []ir.Route, error) {
	s := ir.ExternalService{ID: o.GetId(), Name: o.GetName(), Namespace: o.GetNamespace(), Cluster: o.GetCluster(),
		Labels: o.GetLabels(), Hosts: hostsFromPB(o.GetHosts()), Addresses: o.GetAddresses()}
	for _, p := range o.GetPorts() {
		sp := ir.ServicePort{Name: p.GetName(), Number: p.GetNumber(), Protocol: p.GetProtocol(), TargetPort: p.GetTargetPort(),
			TargetPortName: p.GetTargetPortName(), PortMatch: p.GetPortMatch(), NoEndpoints: p.GetNoEndpoints()}
		if t := p.GetTls(); t != nil {
			sp.TLS = &ir.Origination{Mode: t.GetMode(), SNI: t.GetSni(), CACertificates: t.GetCaCertificates(), ClientCertificate: t.GetClientCertificate(),
				PrivateKey: t.GetPrivateKey(), CredentialName: t.GetCredentialName(), SubjectAltNames: t.GetSubjectAltNames(), InsecureSkipVerify: t.GetInsecureSkipVerify()}
		}
		for _, e := range p.GetEndpoints() {
			sp.Endpoints = append(sp.Endpoints, ir.UpstreamEndpoint{Address: e.GetAddress(), Endpoint: e.GetEndpoint(), AllowLinkLocal: e.GetAllowLinkLocal()})
		}
		s.Ports = append(s.Ports, sp)
	}
	for _, v := range o.GetVisibility() {
		s.Visibility = append(s.Visibility, ir.Visibility{Workspace: v.GetWorkspace(), Via: v.GetVia()})
	}
	var routes []ir.Route
	for _, r := range o.GetRoutes() {
		if r.GetService() != s.ID {
			return s, nil, fmt.Errorf("ExternalService %s: a route names service %q", s.ID, r.GetService())
		}
		ts, err := targetsFromPB(r.GetTargets())
		if err != nil {
			return s, nil, fmt.Errorf("ExternalService %s: %w", s.ID, err)
		}
		routes = append(routes, ir.Route{Host: ir.HostPattern(r.GetHost()), PortMatch: r.GetPortMatch(), ServiceID: r.GetService(), Port: r.GetPort(), Targets: ts})
	}
	return s, routes, nil
}

func targetsToPB(ts []ir.GatewayTarget) []*pb.GatewayTarget {
	var out []*pb.GatewayTarget
	for _, t := range ts {
		out = append(out, &pb.GatewayTarget{Gateway: t.GatewayID, Cluster: t.Cluster, ListenerPort: t.ListenerPort, TargetPort: t.TargetPort, Identity: t.Identity.String()})
	}
	return out
}

func targetsFromPB(ts []*pb.GatewayTarget) ([]ir.GatewayTarget, error) {
	var out []ir.GatewayTarget
	for _, t := range ts {
		id, err := idFromPB(t.GetIdentity())
		if err != nil {
			return nil, fmt.Errorf("gateway target %s: %w", t.GetGateway(), err)
		}
		out = append(out, ir.GatewayTarget{GatewayID: t.GetGateway(), Cluster: t.GetCluster(), ListenerPort: t.GetListenerPort(), TargetPort: t.GetTargetPort(), Identity: id})
	}
	return out, nil
}

func policyToPB(p *ir.Policy, order []byte) *pb.Policy {
	o := &pb.Policy{Id: p.ID, Name: p.Name, Namespace: p.Namespace, OrderKey: order}
	for _, t := range p.Targets {
		o.Targets = append(o.Targets, &pb.PolicyTarget{Service: t.ServiceID, Port: t.Port})
	}
	for _, r := range p.Rules {
		pr := &pb.Rule{Methods: r.Methods, Paths: r.Paths, DryRun: r.DryRun, Never: r.Never}
		for _, c := range r.Clients {
			pc := &pb.ClientMatch{ServiceAccount: c.ServiceAccount, Namespace: c.Namespace, Cluster: c.Cluster, TrustDomain: c.TrustDomain, ByLabels: c.ByLabels}
			for _, id := range c.Identities {
				pc.Identities = append(pc.Identities, id.String())
			}
			pr.Clients = append(pr.Clients, pc)
		}
		for _, h := range r.Headers {
			pr.Headers = append(pr.Headers, &pb.HeaderMatch{Name: h.Name, Values: h.Values, NotValues: h.NotValues})
		}
		o.Rules = append(o.Rules, pr)
	}
	return o
}

func policyFromPB(o *pb.Policy) (ir.Policy, error) {
	p := ir.Policy{ID: o.GetId(), Name: o.GetName(), Namespace: o.GetNamespace()}
	for _, t := range o.GetTargets() {
		p.Targets = append(p.Targets, ir.PolicyTarget{ServiceID: t.GetService(), Port: t.GetPort()})
	}
	for _, r := range o.GetRules() {
		ir := ir.Rule{Methods: r.GetMethods(), Paths: r.GetPaths(), DryRun: r.GetDryRun(), Never: r.GetNever()}
		for _, c := range r.GetClients() {
			cm, err := clientFromPB(c)
			if err != nil {
				return p, fmt.Errorf("Policy %s: %w", p.ID, err)
			}
			ir.Clients = append(ir.Clients, cm)
		}
		for _, h := range r.GetHeaders() {
			ir.Headers = append(ir.Headers, headerFromPB(h))
		}
		p.Rules = append(p.Rules, ir)
	}
	return p, nil
}

func clientFromPB(c *pb.ClientMatch) (ir.ClientMatch, error) {
	cm := ir.ClientMatch{ServiceAccount: c.GetServiceAccount(), Namespace: c.GetNamespace(), Cluster: c.GetCluster(), TrustDomain: c.GetTrustDomain(), ByLabels: c.GetByLabels()}
	for _, s := range c.GetIdentities() {
		id, err := idFromPB(s)
		if err != nil {
			return cm, err
		}
		cm.Identities = append(cm.Identities, id)
	}
	return cm, nil
}

func headerFromPB(h *pb.HeaderMatch) ir.HeaderMatch {
	return ir.HeaderMatch{Name: h.GetName(), Values: h.GetValues(), NotValues: h.GetNotValues()}
}

func routeTableToPB(t *ir.RouteTable, order []byte) *pb.RouteTable {
	o := &pb.RouteTable{Id: t.ID, Hosts: hostsToPB(t.Hosts), Mesh: t.Mesh, AllCallers: t.AllCallers, Gateways: targetsToPB(t.Gateways), OrderKey: order}
	for _, c := range t.Callers {
		o.Callers = append(o.Callers, c.String())
	}
	for _, r := range t.Routes {
		pr := &pb.HTTPRoute{Name: r.Name}
		for _, m := range r.Matchers {
			pm := &pb.RouteMatcher{Exact: m.Exact, Prefix: m.Prefix, Regex: m.Regex, IgnoreCase: m.IgnoreCase, Method: m.Method, Port: m.Port}
			for _, h := range m.Headers {
				pm.Headers = append(pm.Headers, &pb.RouteHeader{Name: h.Name, Value: h.Value, Regex: h.Regex, Invert: h.Invert})
			}
			pr.Matchers = append(pr.Matchers, pm)
		}
		for _, d := range r.Destinations {
			pr.Destinations = append(pr.Destinations, &pb.RouteDestination{Service: d.ServiceID, Port: d.Port, Weight: d.Weight})
		}
		o.Routes = append(o.Routes, pr)
	}
	return o
}

func routeTableFromPB(o *pb.RouteTable) (ir.RouteTable, error) {
	t := ir.RouteTable{ID: o.GetId(), Hosts: hostsFromPB(o.GetHosts()), Mesh: o.GetMesh(), AllCallers: o.GetAllCallers()}
	for _, c := range o.GetCallers() {
		id, err := idFromPB(c)
		if err != nil {
			return t, fmt.Errorf("RouteTable %s: %w", t.ID, err)
		}
		t.Callers = append(t.Callers, id)
	}
	gws, err := targetsFromPB(o.GetGateways())
	if err != nil {
		return t, fmt.Errorf("RouteTable %s: %w", t.ID, err)
	}
	t.Gateways = gws
	for _, r := range o.GetRoutes() {
		hr := ir.HTTPRoute{Name: r.GetName()}
		for _, m := range r.GetMatchers() {
			rm := ir.RouteMatcher{Exact: m.GetExact(), Prefix: m.GetPrefix(), Regex: m.GetRegex(), IgnoreCase: m.GetIgnoreCase(), Method: m.GetMethod(), Port: m.GetPort()}
			for _, h := range m.GetHeaders() {
				rm.Headers = append(rm.Headers, ir.RouteHeader{Name: h.GetName(), Value: h.GetValue(), Regex: h.GetRegex(), Invert: h.GetInvert()})
			}
			hr.Matchers = append(hr.Matchers, rm)
		}
		for _, d := range r.GetDestinations() {
			hr.Destinations = append(hr.Destinations, ir.RouteDestination{ServiceID: d.GetService(), Port: d.GetPort(), Weight: d.GetWeight()})
		}
		t.Routes = append(t.Routes, hr)
	}
	return t, nil
}

func gatewayToPB(g *ir.Gateway) *pb.Gateway {
	o := &pb.Gateway{Id: g.ID, Name: g.Name, Namespace: g.Namespace, Cluster: g.Cluster, Revision: g.Revision, Active: g.Active,
		Labels: g.Labels, Identity: g.Identity.String()}
	for _, p := range g.ServicePorts {
		o.ServicePorts = append(o.ServicePorts, &pb.GatewayPort{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort})
	}
	for _, l := range g.Listeners {
		pl := &pb.Listener{VirtualGateway: l.VirtualGateway, Port: l.Port, TargetPort: l.TargetPort, TlsMode: l.TLSMode, Protocol: l.Protocol, ExposedAll: l.Exposed == nil}
		for _, e := range l.Exposed {
			pl.Exposed = append(pl.Exposed, &pb.ExposedHost{Namespace: e.Namespace, Host: string(e.Host)})
		}
		o.Listeners = append(o.Listeners, pl)
	}
	return o
}

func gatewayFromPB(o *pb.Gateway) (ir.Gateway, error) {
	id, err := idFromPB(o.GetIdentity())
	if err != nil {
		return ir.Gateway{}, fmt.Errorf("Gateway %s: %w", o.GetId(), err)
	}
	g := ir.Gateway{ID: o.GetId(), Name: o.GetName(), Namespace: o.GetNamespace(), Cluster: o.GetCluster(), Revision: o.GetRevision(),
		Active: o.GetActive(), Labels: o.GetLabels(), Identity: id}
	for _, p := range o.GetServicePorts() {
		g.ServicePorts = append(g.ServicePorts, ir.GatewayPort{Name: p.GetName(), Port: p.GetPort(), TargetPort: p.GetTargetPort()})
	}
	for _, l := range o.GetListeners() {
		il := ir.Listener{VirtualGateway: l.GetVirtualGateway(), Port: l.GetPort(), TargetPort: l.GetTargetPort(), TLSMode: l.GetTlsMode(), Protocol: l.GetProtocol()}
		if !l.GetExposedAll() {
			il.Exposed = []ir.ExposedHost{}
			for _, e := range l.GetExposed() {
				il.Exposed = append(il.Exposed, ir.ExposedHost{Namespace: e.GetNamespace(), Host: ir.HostPattern(e.GetHost())})
			}
		}
		g.Listeners = append(g.Listeners, il)
	}
	return g, nil
}

func workloadToPB(w *ir.Workload, addrs map[string]string) *pb.Workload {
	o := &pb.Workload{Name: w.Name, Namespace: w.Namespace, Cluster: w.Cluster, ServiceAccount: w.ServiceAccount, Labels: w.Labels,
		Identity: w.Identity.String(), GatewayAddresses: addrs}
	if w.Sidecar != nil {
		o.HasSidecar, o.SidecarListen, o.SidecarMode = true, w.Sidecar.Listen, w.Sidecar.Mode
	}
	return o
}

func workloadFromPB(o *pb.Workload) (ir.Workload, map[string]string, error) {
	id, err := idFromPB(o.GetIdentity())
	if err != nil {
		return ir.Workload{}, nil, fmt.Errorf("Workload %s/%s: %w", o.GetNamespace(), o.GetName(), err)
	}
	w := ir.Workload{Name: o.GetName(), Namespace: o.GetNamespace(), Cluster: o.GetCluster(), ServiceAccount: o.GetServiceAccount(),
		Labels: o.GetLabels(), Identity: id}
	if o.GetHasSidecar() {
		w.Sidecar = &ir.Sidecar{Listen: o.GetSidecarListen(), Mode: o.GetSidecarMode()}
	}
	return w, o.GetGatewayAddresses(), nil
}

func hostsToPB(hs []ir.HostPattern) []string {
	if hs == nil {
		return nil
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = string(h)
	}
	return out
}

func hostsFromPB(hs []string) []ir.HostPattern {
	if hs == nil {
		return nil
	}
	out := make([]ir.HostPattern, len(hs))
	for i, h := range hs {
		out[i] = ir.HostPattern(h)
	}
	return out
}

func idFromPB(s string) (ir.SpiffeID, error) {
	var id ir.SpiffeID
	err := id.UnmarshalText([]byte(s))
	return id, err
}
