package translate

import (
	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// gatewayInstall carries the Kubernetes side of an egress gateway component (image, Service type,
// scheduling) into the plan, for the Istio renderer; the component's own hub and tag win over the spec's.
func gatewayInstall(owner string, iop *api.IstioOperatorSpec, g api.GatewaySpec) *ir.GatewayInstall {
	in := &ir.GatewayInstall{Owner: owner, Hub: cmpOr(g.Hub, iop.Hub), Tag: cmpOr(g.Tag, iop.Tag)}
	if k := g.K8s; k != nil {
		in.NodeSelector, in.PodAnnotations, in.ServiceAnnotations = k.NodeSelector, k.PodAnnotations, k.ServiceAnnotations
		if k.Service != nil {
			in.ServiceType = k.Service.Type
		}
		if k.Tolerations != nil {
			in.Tolerations = k.Tolerations.Value
		}
		if k.Affinity != nil {
			in.Affinity = k.Affinity.Value
		}
	}
	return in
}
