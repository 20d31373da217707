package translate

import (
	"fmt"
	"maps"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// defaultGatewayNamespace is where Gloo installs gateways when neither the gateway nor the operator spec names a namespace.
const defaultGatewayNamespace = "gloo-mesh-gateways"

// istioEgressPorts are the Service ports of Istio's egress gateway chart, used when the manifest lists none.
var istioEgressPorts = []ir.GatewayPort{
	{Name: "http2", Port: 80, TargetPort: 8080},
	{Name: "https", Port: 443, TargetPort: 8443},
}

// istioEgressLabels are the labels Istio's egress gateway chart puts on every egress gateway, whatever its
// name; a component's `label` map is merged over them (a repeated key overrides), as the chart's values are.
var istioEgressLabels = map[string]string{
	"app":   "istio-egressgateway",
	"istio": "egressgateway",
}

// gateways creates one gateway instance per GatewayLifecycleManager installation, cluster and enabled egress gateway component.
func (t *translator) gateways() {
	for _, glm := range t.snap.GatewayLifecycleManagers {
		if !t.valid(glm) {
			continue
		}
		for _, inst := range glm.Spec.Installations {
			iop := inst.IstioOperatorSpec
			if iop == nil || iop.Components == nil {
				continue
			}
			for _, c := range inst.Clusters {
				for _, g := range iop.Components.EgressGateways {
					if g.Enabled != nil && !*g.Enabled {
						continue
					}
					ns := cmpOr(g.Namespace, iop.Namespace, defaultGatewayNamespace)
					gw := ir.Gateway{
						ID:        c.Name + "/" + ns + "/" + g.Name,
						Name:      g.Name,
						Namespace: ns,
						Cluster:   c.Name,
						Revision:  inst.GatewayRevision,
						Active:    c.ActiveGateway,
						Labels:    gatewayLabels(g.Label),
						// The gateway runs as a service account named after it, as Istio's chart does.
						Identity:     ir.NewSpiffeID(t.trustDomain(c.Name), ns, g.Name),
						ServicePorts: servicePorts(g),
						Install:      gatewayInstall(glm.Metadata.Namespace+"/"+glm.Metadata.Name, iop, g),
					}
					t.plan.Gateways = append(t.plan.Gateways, gw)
				}
			}
		}
	}
}

// gatewayLabels are the labels a gateway carries: Istio's chart defaults with the component's own merged over them.
func gatewayLabels(own map[string]string) map[string]string {
	out := maps.Clone(istioEgressLabels)
	maps.Copy(out, own)
	return out
}

func servicePorts(g api.GatewaySpec) []ir.GatewayPort {
	if g.K8s == nil || g.K8s.Service == nil || len(g.K8s.Service.Ports) == 0 {
		return append([]ir.GatewayPort(nil), istioEgressPorts...)
	}
	var out []ir.GatewayPort
	for _, p := range g.K8s.Service.Ports {
		out = append(out, ir.GatewayPort{Name: p.Name, Port: p.Port, TargetPort: cmpOrPort(p.TargetPort, p.Port)})
	}
	return out
}

func cmpOrPort(a, b uint32) uint32 {
	if a != 0 {
		return a
	}
	return b
}

// selects reports whether a VirtualGateway selects a gateway instance: a nil workload list selects every
// gateway, an entry with a nil selector selects none, and every field an entry sets must match.
func selects(vg *api.VirtualGateway, gw *ir.Gateway) bool {
	if !inCluster(vg, gw.Cluster) {
		return false
	}
	if vg.Spec.Workloads == nil {
		return true
	}
	for _, w := range vg.Spec.Workloads {
		s := w.Selector
		if s == nil {
			continue
		}
		if (s.Name == "" || s.Name == gw.Name) &&
			(s.Namespace == "" || s.Namespace == gw.Namespace) &&
			(s.Cluster == "" || s.Cluster == gw.Cluster) &&
			labelsMatch(s.Labels, gw.Labels) {
			return true
		}
	}
	return false
}

// listeners opens each VirtualGateway's listeners on the gateways it selects. A listener port must be a
// port of the gateway's Service (the gateway listens on its targetPort); otherwise that listener is skipped
// on that gateway, with a warning, because no client could reach it.
func (t *translator) listeners() {
	for _, vg := range t.snap.VirtualGateways {
		if !t.valid(vg) {
			continue
		}
		vgID := vg.Metadata.Namespace + "/" + vg.Metadata.Name
		selected := 0
		for gi := range t.plan.Gateways {
			gw := &t.plan.Gateways[gi]
			if !selects(vg, gw) {
				continue
			}
			selected++
			for li, l := range vg.Spec.Listeners {
				sp, ok := findGatewayPort(gw.ServicePorts, l.Port)
				if !ok {
					t.warn(vg, fmt.Sprintf("spec.listeners[%d].port", li), "gateway service %s/%s in %s does not expose port %s",
						gw.Namespace, gw.Name, gw.Cluster, portText(l.Port))
					continue
				}
				il := ir.Listener{VirtualGateway: vgID, Port: sp.Port, TargetPort: sp.TargetPort, Protocol: string(l.AppProtocol)}
				if l.TLS != nil {
					il.TLSMode = string(l.TLS.Mode)
				}
				for ei, e := range l.ExposedExternalServices {
					eh, err := parseExposed(e.Host, vg.Metadata.Namespace)
					if err != nil {
						t.warn(vg, fmt.Sprintf("spec.listeners[%d].exposedExternalServices[%d].host", li, ei), "%v", err)
						continue
					}
					il.Exposed = append(il.Exposed, eh)
				}
				gw.Listeners = append(gw.Listeners, il)
				t.apiListeners[gw.ID] = append(t.apiListeners[gw.ID], apiListener{vg: vg, l: &vg.Spec.Listeners[li]})
			}
		}
		if selected == 0 {
			t.warn(vg, "spec.workloads", "selects no gateway")
		}
	}
}

// apiListener is the VirtualGateway listener behind an ir.Listener, kept for route resolution.
type apiListener struct {
	vg *api.VirtualGateway
	l  *api.Listener
}

func findGatewayPort(ports []ir.GatewayPort, sel api.PortSelector) (ir.GatewayPort, bool) {
	for _, p := range ports {
		if (sel.Number != 0 && p.Port == sel.Number) || (sel.Number == 0 && sel.Name != "" && p.Name == sel.Name) {
			return p, true
		}
	}
	return ir.GatewayPort{}, false
}

func portText(p api.PortSelector) string {
	if p.Number != 0 {
		return fmt.Sprint(p.Number)
	}
	return fmt.Sprintf("%q", p.Name)
}
