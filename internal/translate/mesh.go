package translate

import (
	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// meshSettings sets the outbound policy and the access log encoding. The GatewayLifecycleManager's own
// meshConfig configures the gateway's proxy, not the mesh, so it is not read here.
func (t *translator) meshSettings() {
	t.plan.Outbound = ir.AllowAny
	t.plan.AccessLogEncoding = string(api.AccessLogJSON)
	for _, ilm := range t.snap.IstioLifecycleManagers {
		if !t.valid(ilm) {
			continue
		}
		for _, inst := range ilm.Spec.Installations {
			if mc := meshConfigOf(inst.IstioOperatorSpec); mc != nil {
				if mc.OutboundTrafficPolicy != nil && mc.OutboundTrafficPolicy.Mode != "" {
					t.plan.Outbound = ir.OutboundMode(mc.OutboundTrafficPolicy.Mode)
				}
				if mc.AccessLogEncoding != "" {
					t.plan.AccessLogEncoding = string(mc.AccessLogEncoding)
				}
			}
		}
	}
	// Mesh and IstioLifecycleManager must agree (validation checks it); the Mesh is egret's own, so it is read last.
	for _, m := range t.snap.Meshes {
		if !t.valid(m) {
			continue
		}
		if m.Spec.OutboundTrafficPolicy != nil && m.Spec.OutboundTrafficPolicy.Mode != "" {
			t.plan.Outbound = ir.OutboundMode(m.Spec.OutboundTrafficPolicy.Mode)
		}
		if m.Spec.AccessLog != nil && m.Spec.AccessLog.Encoding != "" {
			t.plan.AccessLogEncoding = string(m.Spec.AccessLog.Encoding)
		}
	}
}

func meshConfigOf(iop *api.IstioOperatorSpec) *api.MeshConfig {
	if iop == nil {
		return nil
	}
	return iop.MeshConfig
}

// clusters lists every cluster named anywhere, in first-mention order, with its trust domain:
// clusters[].trustDomain > the IstioLifecycleManager's meshConfig.trustDomain > Mesh.spec.trustDomain > the
// cluster name (so that identities of two clusters never collide by default).
func (t *translator) clusters() {
	var order []string
	explicit := map[string]string{}
	seen := map[string]bool{}
	add := func(name, td string) {
		if name == "" {
			return
		}
		if !seen[name] {
			seen[name] = true
			order = append(order, name)
		}
		if td != "" && explicit[name] == "" {
			explicit[name] = td
		}
	}
	for _, glm := range t.snap.GatewayLifecycleManagers {
		if !t.valid(glm) {
			continue
		}
		for _, inst := range glm.Spec.Installations {
			for _, c := range inst.Clusters {
				add(c.Name, c.TrustDomain)
			}
		}
	}
	for _, ilm := range t.snap.IstioLifecycleManagers {
		if !t.valid(ilm) {
			continue
		}
		for _, inst := range ilm.Spec.Installations {
			meshTD := ""
			if mc := meshConfigOf(inst.IstioOperatorSpec); mc != nil {
				meshTD = mc.TrustDomain
			}
			for _, c := range inst.Clusters {
				add(c.Name, cmpOr(c.TrustDomain, meshTD))
			}
		}
	}
	for _, w := range t.snap.Workloads {
		if t.valid(w) {
			add(w.Spec.Cluster, "")
		}
	}
	meshTD := ""
	for _, m := range t.snap.Meshes {
		if t.valid(m) && m.Spec.TrustDomain != "" {
			meshTD = m.Spec.TrustDomain
		}
	}
	for _, name := range order {
		td := cmpOr(explicit[name], meshTD, name)
		t.tdByCluster[name] = td
		t.plan.Clusters = append(t.plan.Clusters, ir.Cluster{Name: name, TrustDomain: td})
	}
}

// trustDomain is the trust domain of a cluster, also of one no installation names (its own name then).
func (t *translator) trustDomain(cluster string) string {
	if td, ok := t.tdByCluster[cluster]; ok {
		return td
	}
	for _, m := range t.snap.Meshes {
		if t.valid(m) && m.Spec.TrustDomain != "" {
			return m.Spec.TrustDomain
		}
	}
	return cluster
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
