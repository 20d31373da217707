package istio

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// istiodNamespace is where istiod runs (its 15012 xDS/CA port is what sidecars must reach).
const istiodNamespace = "istio-system"

// networkPolicies close the sidecar bypass: in each mesh namespace that calls a routed service, pods may
// send only to the egress gateways' pods, to DNS, to istiod, and inside the cluster's own namespaces;
// the gateway namespace may send anywhere (it is the one way out).
func (r *renderer) networkPolicies() {
	if len(r.order) == 0 {
		return
	}
	meshNS := map[string]bool{}
	for _, s := range r.sortedServices() {
		if len(r.gatewayNamespaces(s)) == 0 {
			continue
		}
		exp := r.meshExport(s)
		if exp[0] == "*" {
			exp = r.knownNamespaces()
		}
		for _, ns := range exp {
			if ns != "~" {
				meshNS[ns] = true
			}
		}
	}
	gwNS := map[string]bool{}
	var gwPeers []netv1.NetworkPolicyPeer
	var gwPorts []netv1.NetworkPolicyPort
	for _, key := range r.order {
		g := r.groups[key].active
		gwNS[g.Namespace] = true
		gwPeers = append(gwPeers, netv1.NetworkPolicyPeer{
			NamespaceSelector: nsSelector(g.Namespace),
			PodSelector:       &metav1.LabelSelector{MatchLabels: g.Labels},
		})
		for _, p := range g.ServicePorts {
			gwPorts = append(gwPorts, tcp(int32(p.TargetPort)))
		}
	}
	var names []string
	for ns := range meshNS {
		if !gwNS[ns] && ns != istiodNamespace {
			names = append(names, ns)
		}
	}
	sort.Strings(names)
	o := owner{"Mesh", "", "egress-lockdown"}
	for _, ns := range names {
		np := &netv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: r.meta("egret-egress-lockdown", ns, o)}
		np.Spec.PodSelector = metav1.LabelSelector{}
		np.Spec.PolicyTypes = []netv1.PolicyType{netv1.PolicyTypeEgress}
		np.Spec.Egress = []netv1.NetworkPolicyEgressRule{
			{To: gwPeers, Ports: gwPorts},
			{To: []netv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}}}},
				Ports: []netv1.NetworkPolicyPort{udp(53), tcp(53)}},
			{To: []netv1.NetworkPolicyPeer{{NamespaceSelector: nsSelector(istiodNamespace), PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "istiod"}}}},
				Ports: []netv1.NetworkPolicyPort{tcp(15012), tcp(15017)}},
			// In-cluster traffic stays allowed: the lockdown is about leaving the cluster.
			{To: []netv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}},
		}
		r.out.NetworkPolicies = append(r.out.NetworkPolicies, np)
	}
	var gws []string
	for ns := range gwNS {
		gws = append(gws, ns)
	}
	sort.Strings(gws)
	for _, ns := range gws {
		np := &netv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: r.meta("egret-egress-gateway-out", ns, o)}
		np.Spec.PodSelector = metav1.LabelSelector{}
		np.Spec.PolicyTypes = []netv1.PolicyType{netv1.PolicyTypeEgress}
		np.Spec.Egress = []netv1.NetworkPolicyEgressRule{{}} // one empty rule: any destination
		r.out.NetworkPolicies = append(r.out.NetworkPolicies, np)
	}
}

func nsSelector(ns string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
}

func tcp(port int32) netv1.NetworkPolicyPort {
	p := intstr.FromInt32(port)
	proto := corev1.ProtocolTCP
	return netv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
}

func udp(port int32) netv1.NetworkPolicyPort {
	p := intstr.FromInt32(port)
	proto := corev1.ProtocolUDP
	return netv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
}
