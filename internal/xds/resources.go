package xds

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/proxyconfig"
	pb "egret.dev/egret/internal/xds/configv1"
)

// Type URLs of egret's resources (egret.config.v1.*).
const (
	typePrefix          = "type.googleapis.com/"
	TypeMesh            = typePrefix + "egret.config.v1.Mesh"
	TypeExternalService = typePrefix + "egret.config.v1.ExternalService"
	TypeRouteTable      = typePrefix + "egret.config.v1.RouteTable"
	TypePolicy          = typePrefix + "egret.config.v1.Policy"
	TypeGateway         = typePrefix + "egret.config.v1.Gateway"
	TypeWorkload        = typePrefix + "egret.config.v1.Workload"
)

// MeshName is the name of the one Mesh resource.
const MeshName = "mesh"

// SidecarTypes and GatewayTypes are the resource types each kind of proxy subscribes to, in the order
// it subscribes.
var (
	SidecarTypes = []string{TypeMesh, TypeExternalService, TypeRouteTable, TypeWorkload}
	GatewayTypes = []string{TypeMesh, TypeExternalService, TypeRouteTable, TypePolicy, TypeGateway}
)

// Resources are resources by type URL and name.
type Resources map[string]map[string]proto.Message

func (r Resources) put(typ, name string, m proto.Message) {
	if r[typ] == nil {
		r[typ] = map[string]proto.Message{}
	}
	r[typ][name] = m
}

// planOrder returns p's order keys (ir.OrderKeys, set by translate); a plan built without them is keyed
// by position.
func planOrder(p *ir.Plan) *ir.OrderKeys {
	if p.Order != nil {
		return p.Order
	}
	pos := func(n int, id func(int) string) map[string][]byte {
		out := make(map[string][]byte, n)
		for i := range n {
			out[id(i)] = binary.BigEndian.AppendUint64(nil, uint64(i))
		}
		return out
	}
	return &ir.OrderKeys{
		Services:    pos(len(p.Services), func(i int) string { return p.Services[i].ID }),
		RouteTables: pos(len(p.RouteTables), func(i int) string { return p.RouteTables[i].ID }),
		Policies:    pos(len(p.Policies), func(i int) string { return p.Policies[i].ID }),
	}
}

// sink receives a proxy's resources one by one: in is everything the resource is built from (build is a
// pure function of it), so an encoder can skip building a resource whose inputs are unchanged (memo.go).
type sink interface {
	add(typ, name string, in any, build func() proto.Message) error
}

// add builds every resource (GatewayResources, SidecarResources).
func (r Resources) add(typ, name string, _ any, build func() proto.Message) error {
	r.put(typ, name, build())
	return nil
}

// The inputs of each kind of resource (sink.add's in, as a pointer).
type (
	serviceIn struct {
		s      ir.ExternalService
		routes []ir.Route
		key    []byte
	}
	tableIn struct {
		t   ir.RouteTable
		key []byte
	}
	policyIn struct {
		p   ir.Policy
		key []byte
	}
	workloadIn struct {
		w     ir.Workload
		addrs map[string]string
	}
)

// sliceResources turns a proxy's slice of the plan into resources: the mesh settings, one ExternalService
// per service (carrying the slice's routes to it), one RouteTable per table and one Policy per policy,
// each with its key in ord (a slice's resources are a subsequence of the plan's, so the plan's keys
// order them too). A route to a service outside the slice is an error: it could not be delivered on its own.
func sliceResources(p *ir.Plan, policies bool, ord *ir.OrderKeys, out sink) error {
	if err := out.add(TypeMesh, MeshName, nil, func() proto.Message { return meshToPB(p) }); err != nil {
		return err
	}
	routes := routesByService(p.Routes)
	for i := range p.Services {
		in := &serviceIn{p.Services[i], routes[p.Services[i].ID], ord.Services[p.Services[i].ID]}
		if err := out.add(TypeExternalService, in.s.ID, in, func() proto.Message { return serviceToPB(&in.s, in.routes, in.key) }); err != nil {
			return err
		}
		delete(routes, in.s.ID)
	}
	for id := range routes {
		return fmt.Errorf("a route names ExternalService %s, which is not in the plan", id)
	}
	for i := range p.RouteTables {
		in := &tableIn{p.RouteTables[i], ord.RouteTables[p.RouteTables[i].ID]}
		if err := out.add(TypeRouteTable, in.t.ID, in, func() proto.Message { return routeTableToPB(&in.t, in.key) }); err != nil {
			return err
		}
	}
	if policies {
		for i := range p.Policies {
			in := &policyIn{p.Policies[i], ord.Policies[p.Policies[i].ID]}
			if err := out.add(TypePolicy, in.p.ID, in, func() proto.Message { return policyToPB(&in.p, in.key) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// routesByService groups routes by service. A service's routes are usually one run of the list
// (translate adds them service by service), which is used as it is; runs of the same service apart are
// joined in a copy, so the plan's list is never written to.
func routesByService(rs []ir.Route) map[string][]ir.Route {
	out := map[string][]ir.Route{}
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[j].ServiceID == rs[i].ServiceID {
			j++
		}
		id := rs[i].ServiceID
		if prev, ok := out[id]; ok {
			out[id] = append(slices.Clip(prev), rs[i:j]...)
		} else {
			out[id] = rs[i:j:j]
		}
		i = j
	}
	return out
}

// newResources has every type's map, so that an empty type is present (and its resources removed).
func newResources(types []string) Resources {
	r := Resources{}
	for _, t := range types {
		r[t] = map[string]proto.Message{}
	}
	return r
}

// SidecarResources are what sidecars receive: shared (the mesh settings, every ExternalService with its
// routes, every RouteTable — the host index a sidecar routes and blocks by is the same for all) and each
// workload's own Workload resource (its identity and the gateway addresses), by SPIFFE ID.
func SidecarResources(p *ir.Plan, addrs map[string]string) (shared Resources, own map[string]*pb.Workload, err error) {
	shared, ownRes := newResources(SidecarTypes[:3]), newResources([]string{TypeWorkload})
	if err := sidecarResources(p, addrs, planOrder(p), shared, ownRes); err != nil {
		return nil, nil, err
	}
	own = map[string]*pb.Workload{}
	for id, m := range ownRes[TypeWorkload] {
		own[id] = m.(*pb.Workload)
	}
	return shared, own, nil
}

// sidecarResources adds the sidecars' shared resources to shared and each workload's own (by SPIFFE ID)
// to own, with the keys of ord. The services are proxyconfig's sidecar view (no gateway-only secrets or
// endpoints).
func sidecarResources(p *ir.Plan, addrs map[string]string, ord *ir.OrderKeys, shared, own sink) error {
	err := sliceResources(&ir.Plan{Outbound: p.Outbound, AccessLogEncoding: p.AccessLogEncoding, Clusters: p.Clusters,
		Services: proxyconfig.SidecarServices(p.Services), Routes: p.Routes, Workspaces: p.Workspaces, RouteTables: p.RouteTables}, false, ord, shared)
	if err != nil {
		return err
	}
	gwAddrs := proxyconfig.SidecarGatewayAddresses(p, addrs) // the same for every sidecar
	for i := range p.Workloads {
		in := &workloadIn{p.Workloads[i], gwAddrs}
		if err := own.add(TypeWorkload, in.w.Identity.String(), in, func() proto.Message { return workloadToPB(&in.w, in.addrs) }); err != nil {
			return err
		}
	}
	return nil
}

// GatewayResources are what gateway id receives: itself (its listeners), the services its routes and
// route tables send to, those routes, and the policies that apply to those services (proxyconfig.ForGateway).
func GatewayResources(p *ir.Plan, id string) (Resources, error) {
	r := newResources(GatewayTypes)
	if err := gatewayResources(p, id, planOrder(p), r); err != nil {
		return nil, err
	}
	return r, nil
}

func gatewayResources(p *ir.Plan, id string, ord *ir.OrderKeys, out sink) error {
	cfg, err := proxyconfig.GatewaySlice(p, id)
	if err != nil {
		return err
	}
	if err := sliceResources(&cfg.Plan, true, ord, out); err != nil {
		return fmt.Errorf("gateway %s: %w", id, err)
	}
	return out.add(TypeGateway, id, nil, func() proto.Message { return gatewayToPB(&cfg.Gateway) })
}

// assemble rebuilds a proxy's config from its resources, exactly as proxyconfig cuts it, so the proxy is
// handed the same proxyconfig.Gateway or proxyconfig.Sidecar as proxyconfig cuts from the plan.
func assemble(kind string, r Resources, version string) (Message, error) {
	var plan ir.Plan
	mesh, ok := r[TypeMesh][MeshName].(*pb.Mesh)
	if !ok {
		return Message{}, fmt.Errorf("no %s resource %q", TypeMesh, MeshName)
	}
	meshFromPB(mesh, &plan)
	services := sorted[*pb.ExternalService](r[TypeExternalService], func(s *pb.ExternalService) []byte { return s.GetOrderKey() })
	for _, o := range services {
		s, routes, err := serviceFromPB(o)
		if err != nil {
			return Message{}, err
		}
		plan.Services = append(plan.Services, s)
		plan.Routes = append(plan.Routes, routes...)
	}
	for _, o := range sorted[*pb.RouteTable](r[TypeRouteTable], func(t *pb.RouteTable) []byte { return t.GetOrderKey() }) {
		t, err := routeTableFromPB(o)
		if err != nil {
			return Message{}, err
		}
		plan.RouteTables = append(plan.RouteTables, t)
	}
	switch kind {
	case KindGateway:
		for _, o := range sorted[*pb.Policy](r[TypePolicy], func(p *pb.Policy) []byte { return p.GetOrderKey() }) {
			p, err := policyFromPB(o)
			if err != nil {
				return Message{}, err
			}
			plan.Policies = append(plan.Policies, p)
		}
		if len(r[TypeGateway]) != 1 {
			return Message{}, fmt.Errorf("want one %s resource, have %d", TypeGateway, len(r[TypeGateway]))
		}
		var g ir.Gateway
		for _, m := range r[TypeGateway] {
			o, _ := m.(*pb.Gateway)
			var err error
			if g, err = gatewayFromPB(o); err != nil {
				return Message{}, err
			}
		}
		plan.Gateways = []ir.Gateway{g}
		return Message{Kind: KindGateway, Version: version, Gateway: &proxyconfig.Gateway{Version: version, Gateway: g, Plan: plan}}, nil
	case KindSidecar:
		if len(r[TypeWorkload]) != 1 {
			return Message{}, fmt.Errorf("want one %s resource, have %d", TypeWorkload, len(r[TypeWorkload]))
		}
		var sc proxyconfig.Sidecar
		for _, m := range r[TypeWorkload] {
			o, _ := m.(*pb.Workload)
			w, addrs, err := workloadFromPB(o)
			if err != nil {
				return Message{}, err
			}
			sc = proxyconfig.Sidecar{Version: version, Workload: w, GatewayAddresses: addrs, Plan: plan}
		}
		return Message{Kind: KindSidecar, Version: version, Sidecar: &sc}, nil
	}
	return Message{}, fmt.Errorf("unknown proxy kind %q", kind)
}

// sorted returns the resources of one type in their plan order: by order key, then by id (ir.OrderKeys).
func sorted[T proto.Message](m map[string]proto.Message, order func(T) []byte) []T {
	type named struct {
		name string
		v    T
	}
	list := make([]named, 0, len(m))
	for name, v := range m {
		if t, ok := v.(T); ok {
			list = append(list, named{name, t})
		}
	}
	slices.SortFunc(list, func(a, b named) int {
		return cmp.Or(bytes.Compare(order(a.v), order(b.v)), cmp.Compare(a.name, b.name))
	})
	out := make([]T, len(list))
	for i, n := range list {
		out[i] = n.v
	}
	return out
}
