// Package proxyconfig cuts one proxy's slice of the plan, as it travels to a gateway or a sidecar.
package proxyconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"

	"egret.dev/egret/internal/ir"
)

// Gateway is everything one egress gateway instance needs: itself (listeners, identity) and the part of
// the plan its decisions read. Plan is a full ir.Plan so the gateway asks the same Decide as everyone else.
type Gateway struct {
	Version string     `json:"version"`
	Gateway ir.Gateway `json:"gateway"`
	Plan    ir.Plan    `json:"plan"`
}

// Sidecar is everything one workload's sidecar needs: its identity, where the gateways are, and the
// part of the plan that routes its calls.
type Sidecar struct {
	Version  string      `json:"version"`
	Workload ir.Workload `json:"workload"`
	// GatewayAddresses says where gateways are reached: "ID:targetPort" → host:port of one listener, or
	// "ID" → the gateway's host (each listener on its target port) or one host:port for every listener.
	GatewayAddresses map[string]string `json:"gatewayAddresses,omitempty"`
	Plan             ir.Plan           `json:"plan"`

	planJSON []byte // Plan, encoded once for every sidecar of a plan (see SidecarCutter)
}

// ForGateway cuts the config of gateway id (cluster/namespace/name) from a plan: the routes that target it,
// their services and the policies that apply to those services.
func ForGateway(p *ir.Plan, id string) (*Gateway, error) {
	g, err := GatewaySlice(p, id)
	if err != nil {
		return nil, err
	}
	g.Version = version(g)
	return g, nil
}

// GatewaySlice is ForGateway without the version, for callers that version each part on its own (delta
// xDS): hashing the whole slice of a large registry is most of the cut's cost.
func GatewaySlice(p *ir.Plan, id string) (*Gateway, error) {
	var self *ir.Gateway
	for i := range p.Gateways {
		if p.Gateways[i].ID == id {
			self = &p.Gateways[i]
		}
	}
	if self == nil {
		return nil, fmt.Errorf("no gateway %q in the plan (gateways: %v)", id, gatewayIDs(p))
	}
	// How the gateway is installed (Kubernetes scheduling, images) is the renderer's business, not the
	// running gateway's: leaving it out keeps the config's version still when only that changes.
	own := *self
	own.Install = nil
	self = &own
	slice := ir.Plan{Outbound: p.Outbound, AccessLogEncoding: p.AccessLogEncoding, Clusters: p.Clusters, Gateways: []ir.Gateway{*self}}
	// The gateway decides visibility by its caller's workspace, as the sidecar does.
	slice.Workspaces = p.Workspaces
	services := map[string]bool{}
	slice.Routes = sized[ir.Route](countFunc(p.Routes, func(r *ir.Route) bool {
		return slices.ContainsFunc(r.Targets, func(t ir.GatewayTarget) bool { return t.GatewayID == id })
	}))
	for _, r := range p.Routes {
		mine := 0
		for _, t := range r.Targets {
			if t.GatewayID == id {
				mine++
			}
		}
		if mine == 0 {
			continue
		}
		if mine < len(r.Targets) { // else the route's own list is shared, not copied
			targets := make([]ir.GatewayTarget, 0, mine)
			for _, t := range r.Targets {
				if t.GatewayID == id {
					targets = append(targets, t)
				}
			}
			r.Targets = targets
		}
		slice.Routes = append(slice.Routes, r)
		services[r.ServiceID] = true
	}
	for _, rt := range p.RouteTables {
		if t, ok := gatewayRouteTable(rt, id); ok {
			slice.RouteTables = append(slice.RouteTables, t)
			for _, r := range t.Routes {
				for _, d := range r.Destinations {
					services[d.ServiceID] = true
				}
			}
		}
	}
	addCoRouted(p, services)
	slice.Services = sized[ir.ExternalService](len(services))
	for _, s := range p.Services {
		if services[s.ID] {
			slice.Services = append(slice.Services, s)
		}
	}
	applies := func(pol *ir.Policy) bool {
		return slices.ContainsFunc(pol.Targets, func(t ir.PolicyTarget) bool { return services[t.ServiceID] })
	}
	slice.Policies = sized[ir.Policy](countFunc(p.Policies, applies))
	for i := range p.Policies {
		if applies(&p.Policies[i]) {
			slice.Policies = append(slice.Policies, p.Policies[i])
		}
	}
	return &Gateway{Gateway: *self, Plan: slice}, nil
}

// sized is an empty slice with room for n elements (nil for none, as appending to nothing gives).
func sized[T any](n int) []T {
	if n == 0 {
		return nil
	}
	return make([]T, 0, n)
}

// countFunc counts the elements of s for which f holds (to size a slice before filling it).
func countFunc[T any](s []T, f func(*T) bool) int {
	n := 0
	for i := range s {
		if f(&s[i]) {
			n++
		}
	}
	return n
}

// ForSidecar cuts the config of the workload namespace/name's sidecar: every service and route of the
// mesh (a sidecar must know the whole registry to apply REGISTRY_ONLY) without what only gateways use
// (SidecarServices), no policies (the gateway enforces them), and the addresses of the gateways its
// routes use.
func ForSidecar(p *ir.Plan, namespace, name string, addresses map[string]string) (*Sidecar, error) {
	return NewSidecarCutter(p, addresses).For(namespace, name)
}

// SidecarCutter cuts the sidecar configs of one plan. Every sidecar gets the same registry (services,
// routes, clusters), so the cutter builds it, encodes it and hashes it once: with many sidecars and a
// large registry, a change then costs one encoding, not one per sidecar.
type SidecarCutter struct {
	workloads  map[string]*ir.Workload
	shared     ir.Plan
	sharedJSON []byte
	sharedHash [sha256.Size]byte
	addresses  map[string]string
}

// NewSidecarCutter prepares the shared part of p's sidecar configs.
func NewSidecarCutter(p *ir.Plan, addresses map[string]string) *SidecarCutter {
	c := &SidecarCutter{
		workloads: map[string]*ir.Workload{},
		shared: ir.Plan{
			Outbound: p.Outbound, AccessLogEncoding: p.AccessLogEncoding, Clusters: p.Clusters,
			Services: SidecarServices(p.Services), Routes: p.Routes, Workspaces: p.Workspaces, RouteTables: p.RouteTables,
		},
		addresses: SidecarGatewayAddresses(p, addresses),
	}
	for i := range p.Workloads {
		w := &p.Workloads[i]
		c.workloads[w.Namespace+"/"+w.Name] = w
	}
	b, err := json.Marshal(&c.shared)
	if err != nil {
		panic(fmt.Sprintf("proxyconfig: marshal: %v", err)) // plain data; cannot fail
	}
	c.sharedJSON, c.sharedHash = b, sha256.Sum256(b)
	return c
}

// SidecarGatewayAddresses are the entries of addresses that p's routes and route tables use: what every
// sidecar of p is told about where the gateways are.
func SidecarGatewayAddresses(p *ir.Plan, addresses map[string]string) map[string]string {
	out := map[string]string{}
	use := func(gatewayID string, targetPort uint32) {
		for _, k := range []string{gatewayID, gatewayID + ":" + strconv.FormatUint(uint64(targetPort), 10)} {
			if a, ok := addresses[k]; ok {
				out[k] = a
			}
		}
	}
	for _, r := range p.Routes {
		for _, t := range r.Targets {
			use(t.GatewayID, t.TargetPort)
		}
	}
	for _, rt := range p.RouteTables {
		for _, t := range rt.Gateways {
			use(t.GatewayID, t.TargetPort)
		}
	}
	return out
}

// For returns the config of the sidecar of workload namespace/name.
func (c *SidecarCutter) For(namespace, name string) (*Sidecar, error) {
	w, ok := c.workloads[namespace+"/"+name]
	if !ok {
		return nil, fmt.Errorf("no workload %s/%s in the plan", namespace, name)
	}
	s := &Sidecar{Workload: *w, GatewayAddresses: c.addresses, Plan: c.shared, planJSON: c.sharedJSON}
	own, err := json.Marshal(struct {
		W ir.Workload
		A map[string]string
	}{s.Workload, s.GatewayAddresses})
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(c.sharedHash[:])
	h.Write(own)
	s.Version = hex.EncodeToString(h.Sum(nil)[:8])
	return s, nil
}

// MarshalJSON writes the shared registry as encoded once by the cutter, when there is one.
func (s *Sidecar) MarshalJSON() ([]byte, error) {
	type plain Sidecar // without this method
	if s.planJSON == nil {
		return json.Marshal((*plain)(s))
	}
	head, err := json.Marshal(struct {
		Version          string            `json:"version"`
		Workload         ir.Workload       `json:"workload"`
		GatewayAddresses map[string]string `json:"gatewayAddresses,omitempty"`
	}{s.Version, s.Workload, s.GatewayAddresses})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(s.planJSON)+16)
	out = append(out, head[:len(head)-1]...) // drop the closing brace
	out = append(out, `,"plan":`...)
	out = append(out, s.planJSON...)
	return append(out, '}'), nil
}

// version is a content hash: an unchanged input yields the same version, so nothing is pushed.
func version(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("proxyconfig: marshal: %v", err)) // plain data; cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func gatewayIDs(p *ir.Plan) []string {
	ids := make([]string, 0, len(p.Gateways))
	for _, g := range p.Gateways {
		ids = append(ids, g.ID)
	}
	sort.Strings(ids)
	return ids
}

// LoadGateway reads a gateway config written by `egret render gateway-config`.
func LoadGateway(path string) (*Gateway, error) {
	g := &Gateway{}
	if err := load(path, g); err != nil {
		return nil, err
	}
	if g.Gateway.ID == "" {
		return nil, fmt.Errorf("%s: not a gateway config (no gateway.id)", path)
	}
	return g, nil
}

// LoadSidecar reads a sidecar config written by `egret render sidecar-config`.
func LoadSidecar(path string) (*Sidecar, error) {
	s := &Sidecar{}
	if err := load(path, s); err != nil {
		return nil, err
	}
	if s.Workload.Identity.IsZero() {
		return nil, fmt.Errorf("%s: not a sidecar config (no workload.identity)", path)
	}
	return s, nil
}

func load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// gatewayRouteTable is the part of a gateway route table that gateway id applies: the table with only
// its own listeners, or false when the table is not applied there. Mesh tables are the sidecars' alone.
func gatewayRouteTable(rt ir.RouteTable, id string) (ir.RouteTable, bool) {
	var own []ir.GatewayTarget
	for _, t := range rt.Gateways {
		if t.GatewayID == id {
			own = append(own, t)
		}
	}
	if len(own) == 0 {
		return ir.RouteTable{}, false
	}
	rt.Gateways, rt.Mesh, rt.AllCallers, rt.Callers = own, false, false, nil
	return rt, true
}
