package istio

import (
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/wrapperspb"
	netapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"egret.dev/egret/internal/ir"
)

const networkingAPI = "networking.istio.io/v1"

// meshExport is where a service's mesh-facing config is visible: every namespace without workspaces;
// with them, the namespaces in this cluster of the workspaces that see the service. A workspace
// namespace pattern with "*" stands for the matching namespaces the plan knows of (workloads, services,
// gateways), so exportTo never names more namespaces than the workspace holds.
func (r *renderer) meshExport(s *ir.ExternalService) []string {
	if len(r.plan.Workspaces) == 0 {
		return []string{"*"}
	}
	known := r.knownNamespaces()
	set := map[string]bool{}
	for _, v := range s.Visibility {
		for _, ws := range r.plan.Workspaces {
			if ws.Name != v.Workspace {
				continue
			}
			for _, m := range ws.Members {
				if !ir.GlobMatch(m.Cluster, r.cluster) {
					continue
				}
				if !strings.Contains(m.Namespace, "*") {
					set[m.Namespace] = true
					continue
				}
				for _, ns := range known {
					if ir.GlobMatch(m.Namespace, ns) {
						set[ns] = true
					}
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	if len(out) == 0 {
		// Nobody in this cluster sees it: "~" is Istio's "exported nowhere".
		return []string{"~"}
	}
	return out
}

func (r *renderer) knownNamespaces() []string {
	set := map[string]bool{}
	for _, w := range r.plan.Workloads {
		if w.Cluster == r.cluster {
			set[w.Namespace] = true
		}
	}
	for _, s := range r.services {
		set[s.Namespace] = true
	}
	for _, k := range r.order {
		ns, _, _ := strings.Cut(k, "/")
		set[ns] = true
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// sortedServices lists the cluster's services in plan order.
func (r *renderer) sortedServices() []*ir.ExternalService {
	var out []*ir.ExternalService
	for i := range r.plan.Services {
		if s, ok := r.services[r.plan.Services[i].ID]; ok {
			out = append(out, s)
		}
	}
	return out
}

// gatewayNamespaces are the namespaces of the gateways in this cluster that the service's routes use.
func (r *renderer) gatewayNamespaces(s *ir.ExternalService) []string {
	var out []string
	for _, rt := range r.plan.Routes {
		if rt.ServiceID != s.ID {
			continue
		}
		for _, t := range rt.Targets {
			if g := r.gatewayOf(t.GatewayID); g != nil && !slices.Contains(out, g.active.Namespace) {
				out = append(out, g.active.Namespace)
			}
		}
	}
	sort.Strings(out)
	return out
}

// serviceEntries: the mesh's ServiceEntry lists the ports workloads may call (each portMatch port, and
// the ports with no gateway route); the gateway namespace's own copy lists every port. A port that is
// reached only through gateways is thus unknown to the sidecars, as it is in egret's registry, so a
// workload that calls it gets REGISTRY_ONLY's 502 instead of a direct connection.
func (r *renderer) serviceEntries() {
	for _, s := range r.sortedServices() {
		if len(s.Hosts) == 0 {
			r.warnf("ExternalService %s has addresses and no hosts; Istio needs hosts, so it is not rendered", s.ID)
			continue
		}
		mesh := r.serviceEntry(s, s.Namespace, r.meshExport(s), true)
		r.out.ServiceEntries = append(r.out.ServiceEntries, mesh)
		for _, ns := range r.gatewayNamespaces(s) {
			r.out.ServiceEntries = append(r.out.ServiceEntries, r.serviceEntry(s, ns, []string{"."}, false))
		}
	}
}

func (r *renderer) serviceEntry(s *ir.ExternalService, namespace string, exportTo []string, mesh bool) *networkingv1.ServiceEntry {
	se := &networkingv1.ServiceEntry{
		TypeMeta:   typeMeta(networkingAPI, "ServiceEntry"),
		ObjectMeta: r.meta(objectName("externalservice", s.Name, s.Namespace), namespace, ownerOf("ExternalService", s.ID)),
	}
	spec := &se.Spec
	spec.ExportTo = exportTo
	spec.Location = netapi.ServiceEntry_MESH_EXTERNAL
	for _, h := range s.Hosts {
		spec.Hosts = append(spec.Hosts, string(h))
	}
	spec.Addresses = s.Addresses
	seen := map[uint32]bool{}
	add := func(p *netapi.ServicePort) {
		if !seen[p.Number] {
			seen[p.Number] = true
			spec.Ports = append(spec.Ports, p)
		}
	}
	var withEndpoints []*ir.ServicePort
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.PortMatch != 0 {
			add(&netapi.ServicePort{Number: p.PortMatch, Protocol: "HTTP", Name: objectName("http", strconv.Itoa(int(p.PortMatch)))})
			if mesh {
				continue
			}
		}
		sp := &netapi.ServicePort{Number: p.Number, Protocol: cmpOr(p.Protocol, "TCP"), Name: portName(p)}
		if p.TargetPort != 0 && len(p.Endpoints) == 0 {
			sp.TargetPort = p.TargetPort
		}
		add(sp)
		if len(p.Endpoints) > 0 {
			withEndpoints = append(withEndpoints, p)
		}
	}
	switch {
	case len(withEndpoints) > 0:
		spec.Resolution = netapi.ServiceEntry_STATIC
		spec.Endpoints = endpoints(withEndpoints)
		for _, e := range spec.Endpoints {
			if net.ParseIP(e.Address) == nil {
				spec.Resolution = netapi.ServiceEntry_DNS
			}
		}
	case slices.ContainsFunc(s.Hosts, ir.HostPattern.IsWildcard):
		// Istio resolves a wildcard host per request (the Host header or SNI) only with DYNAMIC_DNS, which
		// takes HTTP, TLS, GRPC or HTTP2 ports (Istio's validation): a port the gateway originates TLS on
		// carries HTTP into the cluster (the DestinationRule adds the TLS), any other HTTPS port is TLS.
		spec.Resolution = netapi.ServiceEntry_DYNAMIC_DNS
		for _, sp := range spec.Ports {
			if sp.Protocol != "HTTPS" {
				continue
			}
			sp.Protocol = "TLS"
			for i := range s.Ports {
				if p := &s.Ports[i]; p.Number == sp.Number && p.TLS != nil && p.TLS.Mode != "DISABLE" && p.TLS.Mode != "" {
					sp.Protocol = "HTTP"
				}
			}
		}
	default:
		spec.Resolution = netapi.ServiceEntry_DNS
	}
	return se
}

func portName(p *ir.ServicePort) string {
	if p.Name != "" {
		return p.Name
	}
	return objectName(strings.ToLower(cmpOr(p.Protocol, "tcp")), strconv.Itoa(int(p.Number)))
}

// endpoints turns the selected ExternalEndpoints into WorkloadEntries: one per endpoint address, with
// the dialled port under the name of each service port that uses it.
func endpoints(ports []*ir.ServicePort) []*netapi.WorkloadEntry {
	byAddr := map[string]*netapi.WorkloadEntry{}
	var order []string
	for _, p := range ports {
		for _, e := range p.Endpoints {
			host, port, err := net.SplitHostPort(e.Address)
			if err != nil {
				continue
			}
			n, _ := strconv.ParseUint(port, 10, 32)
			key := e.Endpoint + "|" + host
			we := byAddr[key]
			if we == nil {
				_, name, _ := strings.Cut(e.Endpoint, "/")
				we = &netapi.WorkloadEntry{Address: host, Ports: map[string]uint32{}, Labels: map[string]string{"egret.dev/external-endpoint": name}}
				byAddr[key] = we
				order = append(order, key)
			}
			we.Ports[portName(p)] = uint32(n)
		}
	}
	out := make([]*netapi.WorkloadEntry, 0, len(order))
	for _, k := range order {
		out = append(out, byAddr[k])
	}
	return out
}

// originations: one DestinationRule per host of a service with TLS origination, port by port, where the
// egress gateway (and a sidecar calling the port directly) originates TLS. It sets no outlier detection
// or connection pool: Gloo does not apply such policies to egress gateway traffic, and egret neither.
func (r *renderer) originations() {
	for _, s := range r.sortedServices() {
		var tlsPorts []*ir.ServicePort
		for i := range s.Ports {
			if p := &s.Ports[i]; p.TLS != nil && p.TLS.Mode != "DISABLE" && p.TLS.Mode != "" {
				tlsPorts = append(tlsPorts, p)
			}
		}
		if len(tlsPorts) == 0 {
			continue
		}
		export := r.meshExport(s)
		switch {
		case export[0] == "*":
		case export[0] == "~":
			export = r.gatewayNamespaces(s)
		default:
			export = dedupe(append(export, r.gatewayNamespaces(s)...))
		}
		if len(export) == 0 {
			continue
		}
		for _, h := range s.Hosts {
			dr := &networkingv1.DestinationRule{
				TypeMeta:   typeMeta(networkingAPI, "DestinationRule"),
				ObjectMeta: r.meta(objectName("externalservice", s.Name, s.Namespace, string(h)), s.Namespace, ownerOf("ExternalService", s.ID)),
			}
			dr.Spec.Host = string(h)
			dr.Spec.ExportTo = export
			tp := &netapi.TrafficPolicy{}
			for _, p := range tlsPorts {
				tls := clientTLS(p.TLS)
				if tls.Sni == "" && !h.IsWildcard() {
					tls.Sni = string(h)
				}
				tp.PortLevelSettings = append(tp.PortLevelSettings, &netapi.TrafficPolicy_PortTrafficPolicy{
					Port: &netapi.PortSelector{Number: p.Number}, Tls: tls,
				})
			}
			dr.Spec.TrafficPolicy = tp
			r.out.DestinationRules = append(r.out.DestinationRules, dr)
			// The gateway sees the host through the ServiceEntry in its own namespace, and istiod looks
			// for a DestinationRule in the proxy's namespace, then the service's, then the root namespace:
			// one exported from the ExternalService's namespace is never consulted there. So the gateway
			// gets its own copy (found by istiod's xDS test: without it the gateway sent plain HTTP to 443).
			for _, ns := range r.gatewayNamespaces(s) {
				if ns == s.Namespace {
					continue
				}
				gdr := dr.DeepCopy()
				gdr.ObjectMeta = r.meta(objectName("externalservice", s.Name, s.Namespace, string(h)), ns, ownerOf("ExternalService", s.ID))
				gdr.Spec.ExportTo = []string{"."}
				r.out.DestinationRules = append(r.out.DestinationRules, gdr)
			}
		}
	}
}

func clientTLS(o *ir.Origination) *netapi.ClientTLSSettings {
	t := &netapi.ClientTLSSettings{
		Sni:               o.SNI,
		CaCertificates:    o.CACertificates,
		ClientCertificate: o.ClientCertificate,
		PrivateKey:        o.PrivateKey,
		CredentialName:    o.CredentialName,
		SubjectAltNames:   o.SubjectAltNames,
	}
	switch o.Mode {
	case "MUTUAL":
		t.Mode = netapi.ClientTLSSettings_MUTUAL
	case "ISTIO_MUTUAL":
		t.Mode = netapi.ClientTLSSettings_ISTIO_MUTUAL
	default:
		t.Mode = netapi.ClientTLSSettings_SIMPLE
	}
	if o.InsecureSkipVerify {
		t.InsecureSkipVerify = wrapperspb.Bool(true)
	}
	return t
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
