package istio

import (
	"slices"

	netapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"egret.dev/egret/internal/ir"
)

// wildcardShadows keeps a wildcard ExternalService from routing around the gateway route of an exact host
// it covers. egret refuses a caller that sees the wildcard but not the exact host's service (the host is
// reached only through gateways, by those who see it). In Istio that caller's sidecar would match the
// wildcard ServiceEntry and dial the host itself, so a VirtualService for the exact host, exported to
// exactly those namespaces, answers 502 (REGISTRY_ONLY's answer) there. istiod gives a VirtualService
// host that no ServiceEntry names a virtual host on port 80 only, so on another portMatch port this
// stays a warning.
func (r *renderer) wildcardShadows() {
	for _, s := range r.sortedServices() {
		for _, p := range s.Ports {
			if p.PortMatch == 0 {
				continue
			}
			for _, h := range s.Hosts {
				if h.IsWildcard() {
					continue
				}
				for _, w := range r.sortedServices() {
					if w == s || !slices.ContainsFunc(w.Hosts, func(x ir.HostPattern) bool { return x.IsWildcard() && x.Matches(string(h)) }) || !meshPort(w, p.PortMatch) {
						continue
					}
					seen := r.expandExport(r.meshExport(s))
					var ns []string
					for _, n := range r.expandExport(r.meshExport(w)) {
						if !slices.Contains(seen, n) {
							ns = append(ns, n)
						}
					}
					if len(ns) == 0 {
						continue
					}
					if p.PortMatch != 80 {
						r.warnf("ExternalService %s: its wildcard covers %s:%d, which ExternalService %s routes through gateways and namespaces %v do not see; Istio would let them dial it directly through the wildcard, and can only answer for such a host on port 80", w.ID, h, p.PortMatch, s.ID, ns)
						continue
					}
					vs := &networkingv1.VirtualService{
						TypeMeta:   typeMeta(networkingAPI, "VirtualService"),
						ObjectMeta: r.meta(objectName("not-visible", s.Name, s.Namespace, string(h)), w.Namespace, ownerOf("ExternalService", s.ID)),
					}
					vs.Spec.Hosts = []string{string(h)}
					vs.Spec.Gateways = []string{"mesh"}
					vs.Spec.ExportTo = ns
					vs.Spec.Http = []*netapi.HTTPRoute{{
						Name:           "not-visible-80",
						Match:          []*netapi.HTTPMatchRequest{{Port: 80}},
						DirectResponse: &netapi.HTTPDirectResponse{Status: 502},
					}}
					r.out.VirtualServices = append(r.out.VirtualServices, vs)
				}
			}
		}
	}
}

// meshPort reports whether the service's mesh ServiceEntry lists the port.
func meshPort(s *ir.ExternalService, port uint32) bool {
	return slices.ContainsFunc(s.Ports, func(p ir.ServicePort) bool {
		return p.PortMatch == port || p.PortMatch == 0 && p.Number == port
	})
}

// expandExport lists the namespaces an exportTo names: "*" is every namespace the plan knows of in this
// cluster (a pod in a namespace the plan does not know of is not covered), "~" none.
func (r *renderer) expandExport(export []string) []string {
	switch {
	case len(export) == 0, export[0] == "~":
		return nil
	case export[0] == "*":
		return r.knownNamespaces()
	}
	return export
}
