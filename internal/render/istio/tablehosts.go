package istio

import (
	"slices"
	"strconv"

	netapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"egret.dev/egret/internal/ir"
)

// tablePorts are the ports a table's hosts get in their ServiceEntry: those its matchers name, and 80
// when a route matches any port. egret's sidecars send a table's host on every port to the table, but an
// Istio ServiceEntry lists its ports: on any other port Istio answers REGISTRY_ONLY's 502 (narrower).
func tablePorts(t *ir.RouteTable) (ports []uint32, anyPort bool) {
	add := func(p uint32) {
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	for _, route := range t.Routes {
		if len(route.Matchers) == 0 {
			anyPort = true
		}
		for _, m := range route.Matchers {
			if m.Port == 0 {
				anyPort = true
			} else {
				add(m.Port)
			}
		}
	}
	if anyPort {
		add(80)
	}
	slices.Sort(ports)
	return ports, anyPort
}

// tableServiceEntry puts a table's host in the registry of the namespaces exportTo names, so that their
// sidecars route it under REGISTRY_ONLY. Its routes come from the table's VirtualService; the entry's own
// resolution is never used to dial.
func (r *renderer) tableServiceEntry(t *ir.RouteTable, host string, exportTo []string) {
	se := &networkingv1.ServiceEntry{
		TypeMeta:   typeMeta(networkingAPI, "ServiceEntry"),
		ObjectMeta: r.meta(objectName("routetable", nameOf(t.ID), nsOf(t.ID), host), nsOf(t.ID), ownerOf("RouteTable", t.ID)),
	}
	se.Spec.Hosts = []string{host}
	se.Spec.ExportTo = exportTo
	se.Spec.Location = netapi.ServiceEntry_MESH_EXTERNAL
	se.Spec.Resolution = netapi.ServiceEntry_DNS
	ports, anyPort := tablePorts(t)
	for _, p := range ports {
		se.Spec.Ports = append(se.Spec.Ports, &netapi.ServicePort{Number: p, Protocol: "HTTP", Name: objectName("http", strconv.Itoa(int(p)))})
	}
	if anyPort {
		r.warnf("RouteTable %s: Istio routes %s on ports %v only (a ServiceEntry lists its ports); egret's sidecars route it on any port, Istio answers 502 on the others", t.ID, host, ports)
	}
	r.out.ServiceEntries = append(r.out.ServiceEntries, se)
}

// claimedElsewhere says why a table's hosts cannot have a VirtualService of their own: a wildcard, or a
// host that an ExternalService or another RouteTable also claims (Istio uses one VirtualService per host
// for sidecars, so the two would have to be merged, in egret's order). "" when none.
func (r *renderer) claimedElsewhere(t *ir.RouteTable) string {
	for _, h := range t.Hosts {
		if h.IsWildcard() {
			return "its host " + string(h) + " is a wildcard"
		}
		for _, s := range r.sortedServices() {
			if slices.ContainsFunc(s.Hosts, func(p ir.HostPattern) bool { return p.Matches(string(h)) }) {
				return "its host " + string(h) + " is also a host of ExternalService " + s.ID
			}
		}
		for i := range r.plan.RouteTables {
			o := &r.plan.RouteTables[i]
			if o.ID != t.ID && slices.ContainsFunc(o.Hosts, func(p ir.HostPattern) bool { return p.Matches(string(h)) }) {
				return "its host " + string(h) + " is also a host of RouteTable " + o.ID
			}
		}
	}
	return ""
}
