package istio

import (
	"slices"
	"strconv"

	netapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"egret.dev/egret/internal/ir"
)

// listenerRef is one VirtualGateway listener on one gateway of this cluster, and the Istio Gateway
// object rendered for it.
type listenerRef struct {
	group    *gatewayGroup
	listener ir.Listener
	gateway  string // namespace/name of the Istio Gateway
}

// gatewayObjectName: one Istio Gateway per VirtualGateway and gateway, in the gateway's namespace.
func gatewayObjectName(vg string, g *ir.Gateway) string {
	ns, name, _ := cutID(vg)
	return objectName("virtualgateway", name, ns, g.Name)
}

func cutID(id string) (string, string, bool) {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return id[:i], id[i+1:], true
		}
	}
	return "", id, false
}

// localTarget is the first of a route's gateway targets in this cluster (the plan lists the caller's own
// cluster's gateways first at decision time; here the caller is in this cluster).
func (r *renderer) localTarget(ts []ir.GatewayTarget) (*gatewayGroup, *ir.GatewayTarget) {
	for i := range ts {
		if g := r.gatewayOf(ts[i].GatewayID); g != nil {
			return g, &ts[i]
		}
	}
	return nil, nil
}

// listenerOf finds the listener a target names on a gateway.
func listenerOf(g *ir.Gateway, port uint32) *ir.Listener {
	for i := range g.Listeners {
		if g.Listeners[i].Port == port {
			return &g.Listeners[i]
		}
	}
	return nil
}

// egressRoutes renders, for each ExternalService routed through gateways of this cluster: the Gateway
// server that accepts its hosts over Istio mTLS, the VirtualService that sends the mesh's calls on the
// portMatch port to the gateway and the gateway's on to the host's upstream port, and the
// DestinationRule that makes the sidecar → gateway hop ISTIO_MUTUAL with the host as SNI.
func (r *renderer) egressRoutes() {
	vss := map[string]*networkingv1.VirtualService{}
	for _, rt := range r.plan.Routes {
		s := r.services[rt.ServiceID]
		if s == nil {
			continue
		}
		grp, t := r.localTarget(rt.Targets)
		if grp == nil {
			r.warnf("ExternalService %s: %s:%d is routed only through gateways of other clusters (or none); cross-cluster egress is not rendered, so its calls from %s get no route (503)", s.ID, rt.Host, rt.PortMatch, r.cluster)
			continue
		}
		gw := grp.active
		l := listenerOf(gw, t.ListenerPort)
		if l == nil {
			continue
		}
		host := string(rt.Host)

		gwRef := r.exposeAt(gw, l, s.Namespace, host)
		subset := r.gatewaySubset(gw, l, host)

		// The VirtualService of the host, bound to the mesh and to the gateway.
		vsKey := s.ID + "|" + host
		vs := vss[vsKey]
		if vs == nil {
			vs = &networkingv1.VirtualService{
				TypeMeta:   typeMeta(networkingAPI, "VirtualService"),
				ObjectMeta: r.meta(objectName("externalservice", s.Name, s.Namespace, host), s.Namespace, ownerOf("ExternalService", s.ID)),
			}
			vs.Spec.Hosts = []string{host}
			export := r.meshExport(s)
			if export[0] == "~" {
				export = nil
			}
			if export == nil || export[0] != "*" {
				export = dedupe(append(export, r.gatewayNamespaces(s)...))
			}
			vs.Spec.ExportTo = export
			vss[vsKey] = vs
			r.out.VirtualServices = append(r.out.VirtualServices, vs)
		}
		if !slices.Contains(vs.Spec.Gateways, "mesh") {
			vs.Spec.Gateways = append(vs.Spec.Gateways, "mesh")
		}
		if !slices.Contains(vs.Spec.Gateways, gwRef) {
			vs.Spec.Gateways = append(vs.Spec.Gateways, gwRef)
		}
		vs.Spec.Http = append(vs.Spec.Http,
			&netapi.HTTPRoute{
				Name:  objectName("mesh", strconv.Itoa(int(rt.PortMatch))),
				Match: []*netapi.HTTPMatchRequest{{Gateways: []string{"mesh"}, Port: rt.PortMatch}},
				Route: []*netapi.HTTPRouteDestination{{Destination: &netapi.Destination{
					Host: serviceHost(gw), Subset: subset, Port: &netapi.PortSelector{Number: l.Port},
				}}},
			},
			&netapi.HTTPRoute{
				Name:  objectName("gateway", strconv.Itoa(int(l.TargetPort)), strconv.Itoa(int(rt.Port))),
				Match: []*netapi.HTTPMatchRequest{{Gateways: []string{gwRef}, Port: l.TargetPort}},
				Route: []*netapi.HTTPRouteDestination{{Destination: &netapi.Destination{
					Host: host, Port: &netapi.PortSelector{Number: rt.Port},
				}}},
			})
	}
	r.noGatewayRoutes(vss)
}

// exposeAt makes the Istio Gateway of a listener accept host for VirtualServices of namespace ns (one
// Gateway per VirtualGateway and gateway, one server per listener), and returns its namespace/name.
func (r *renderer) exposeAt(gw *ir.Gateway, l *ir.Listener, ns, host string) string {
	gwName := gatewayObjectName(l.VirtualGateway, gw)
	var g *networkingv1.Gateway
	for _, x := range r.out.Gateways {
		if x.Namespace == gw.Namespace && x.Name == gwName {
			g = x
		}
	}
	if g == nil {
		g = &networkingv1.Gateway{
			TypeMeta:   typeMeta(networkingAPI, "Gateway"),
			ObjectMeta: r.meta(gwName, gw.Namespace, ownerOf("VirtualGateway", l.VirtualGateway)),
		}
		g.Spec.Selector = gw.Labels
		r.out.Gateways = append(r.out.Gateways, g)
	}
	srv := serverFor(g, l)
	if h := ns + "/" + host; !slices.Contains(srv.Hosts, h) {
		srv.Hosts = append(srv.Hosts, h)
	}
	return gw.Namespace + "/" + gwName
}

// gatewaySubset makes the sidecar → gateway hop for host ISTIO_MUTUAL with the host as SNI: one subset
// per host in the DestinationRule of the gateway's Service. It returns the subset's name.
func (r *renderer) gatewaySubset(gw *ir.Gateway, l *ir.Listener, host string) string {
	subset := objectName(host)
	drName := objectName("egressgateway", serviceName(gw))
	var dr *networkingv1.DestinationRule
	for _, x := range r.out.DestinationRules {
		if x.Namespace == gw.Namespace && x.Name == drName {
			dr = x
		}
	}
	if dr == nil {
		dr = &networkingv1.DestinationRule{
			TypeMeta:   typeMeta(networkingAPI, "DestinationRule"),
			ObjectMeta: r.meta(drName, gw.Namespace, ownerOf("GatewayLifecycleManager", installOwner(gw))),
		}
		dr.Spec.Host = serviceHost(gw)
		dr.Spec.ExportTo = []string{"*"}
		r.out.DestinationRules = append(r.out.DestinationRules, dr)
	}
	if !slices.ContainsFunc(dr.Spec.Subsets, func(ss *netapi.Subset) bool { return ss.Name == subset }) {
		dr.Spec.Subsets = append(dr.Spec.Subsets, &netapi.Subset{
			Name: subset,
			TrafficPolicy: &netapi.TrafficPolicy{PortLevelSettings: []*netapi.TrafficPolicy_PortTrafficPolicy{{
				Port: &netapi.PortSelector{Number: l.Port},
				Tls:  &netapi.ClientTLSSettings{Mode: netapi.ClientTLSSettings_ISTIO_MUTUAL, Sni: sniFor(host)},
			}}},
		})
	}
	return subset
}

// noGatewayRoutes answers 503 on every portMatch port that no gateway of this cluster serves. The mesh
// ServiceEntry lists that port (it is the one callers call), so without a route the sidecar would dial
// the host on it directly, around every gateway and policy; egret answers NoRoute (503) there.
func (r *renderer) noGatewayRoutes(vss map[string]*networkingv1.VirtualService) {
	for _, s := range r.sortedServices() {
		export := r.meshExport(s)
		if len(s.Hosts) == 0 || export[0] == "~" {
			continue
		}
		for _, p := range s.Ports {
			if p.PortMatch == 0 {
				continue
			}
			for _, h := range s.Hosts {
				host := string(h)
				vs := vss[s.ID+"|"+host]
				if vs != nil && slices.ContainsFunc(vs.Spec.Http, func(hr *netapi.HTTPRoute) bool {
					return hr.Match[0].Port == p.PortMatch && slices.Contains(hr.Match[0].Gateways, "mesh")
				}) {
					continue
				}
				if vs == nil {
					vs = &networkingv1.VirtualService{
						TypeMeta:   typeMeta(networkingAPI, "VirtualService"),
						ObjectMeta: r.meta(objectName("externalservice", s.Name, s.Namespace, host), s.Namespace, ownerOf("ExternalService", s.ID)),
					}
					vs.Spec.Hosts = []string{host}
					vs.Spec.Gateways = []string{"mesh"}
					vs.Spec.ExportTo = export
					vss[s.ID+"|"+host] = vs
					r.out.VirtualServices = append(r.out.VirtualServices, vs)
				}
				vs.Spec.Http = append(vs.Spec.Http, &netapi.HTTPRoute{
					Name:           objectName("no-gateway", strconv.Itoa(int(p.PortMatch))),
					Match:          []*netapi.HTTPMatchRequest{{Gateways: []string{"mesh"}, Port: p.PortMatch}},
					DirectResponse: &netapi.HTTPDirectResponse{Status: 503},
				})
			}
		}
	}
}

// sniFor is the SNI the sidecar sends the gateway: the host, or for a wildcard its suffix under a fixed
// label, since an SNI cannot hold "*" and the gateway's server matches the wildcard.
func sniFor(host string) string {
	if len(host) > 1 && host[0] == '*' {
		return "wildcard" + host[1:]
	}
	return host
}

func serverFor(g *networkingv1.Gateway, l *ir.Listener) *netapi.Server {
	for _, s := range g.Spec.Servers {
		if s.Port.Number == l.TargetPort {
			return s
		}
	}
	proto := l.Protocol
	if proto == "" || proto == "HTTP" || proto == "HTTP2" {
		proto = "HTTPS"
	}
	s := &netapi.Server{
		Port: &netapi.Port{Number: l.TargetPort, Protocol: proto, Name: objectName(proto, strconv.Itoa(int(l.TargetPort)))},
		Tls:  &netapi.ServerTLSSettings{Mode: netapi.ServerTLSSettings_ISTIO_MUTUAL},
	}
	g.Spec.Servers = append(g.Spec.Servers, s)
	return s
}

func installOwner(g *ir.Gateway) string {
	if g.Install != nil {
		return g.Install.Owner
	}
	return g.Namespace + "/" + g.Name
}
