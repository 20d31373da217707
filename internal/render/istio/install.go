package istio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"egret.dev/egret/internal/ir"
)

// defaultHub and defaultTag are Istio's when the GatewayLifecycleManager names no image.
const (
	defaultHub = "docker.io/istio"
	defaultTag = "1.25.2"
)

// meshConfig is istiod's mesh configuration as the `istio` ConfigMap istiod reads (its `mesh` key is
// what the IstioOperator's spec.meshConfig and the istiod chart's meshConfig values become).
func (r *renderer) meshConfig() {
	enc := "JSON"
	if r.plan.AccessLogEncoding == "TEXT" {
		enc = "TEXT"
	}
	mode := string(r.plan.Outbound)
	if mode == "" {
		mode = string(ir.AllowAny)
	}
	// Written out field by field: Istio's JSON marshaller drops enum zero values, and REGISTRY_ONLY is
	// the zero of OutboundTrafficPolicy.Mode, so a typed MeshConfig would lose the one setting that matters.
	mesh := map[string]any{
		"trustDomain":           r.td,
		"accessLogFile":         "/dev/stdout",
		"accessLogEncoding":     enc,
		"outboundTrafficPolicy": map[string]any{"mode": mode},
	}
	y, err := yaml.Marshal(mesh)
	if err != nil {
		panic(fmt.Sprintf("mesh config: %v", err)) // plain strings always marshal
	}
	r.out.MeshConfig = &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: r.meta("istio", istiodNamespace, owner{"Mesh", "", "mesh-config"}),
		Data:       map[string]string{"mesh": string(y)},
	}
}

// gatewayInstalls renders each gateway as Istio's gateway chart does: a ServiceAccount (the gateway's
// identity), and per revision a Deployment whose pods istiod injects with the gateway template, a Service
// with the component's ports, and a PodDisruptionBudget.
func (r *renderer) gatewayInstalls() error {
	for _, key := range r.order {
		grp := r.groups[key]
		first := grp.revisions[0]
		o := ownerOf("GatewayLifecycleManager", installOwner(first))
		sa := &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: r.meta(first.Name, first.Namespace, o)}
		r.out.ServiceAccounts = append(r.out.ServiceAccounts, sa)
		for _, g := range grp.revisions {
			if err := r.gatewayRevision(g, o); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *renderer) gatewayRevision(g *ir.Gateway, o owner) error {
	in := g.Install
	if in == nil {
		in = &ir.GatewayInstall{}
	}
	name := serviceName(g)
	selector := maps.Clone(g.Labels)
	if g.Revision != "" {
		selector["istio.io/rev"] = g.Revision
	}
	pod, err := gatewayPod(g, in, selector)
	if err != nil {
		return err
	}
	var sports []corev1.ServicePort
	for _, p := range g.ServicePorts {
		sports = append(sports, corev1.ServicePort{Name: servicePortName(p), Port: int32(p.Port), TargetPort: intstr.FromInt32(int32(p.TargetPort)), Protocol: corev1.ProtocolTCP})
	}
	one := intstr.FromInt32(1)
	dep := &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: r.meta(name, g.Namespace, o),
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: pod,
		},
	}
	svc := &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: r.meta(name, g.Namespace, o),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceType(cmpOr(in.ServiceType, "ClusterIP")),
			Selector: selector,
			Ports:    sports,
		},
	}
	if len(in.ServiceAnnotations) > 0 {
		maps.Copy(svc.Annotations, in.ServiceAnnotations)
	}
	pdb := &policyv1.PodDisruptionBudget{
		TypeMeta:   typeMeta("policy/v1", "PodDisruptionBudget"),
		ObjectMeta: r.meta(name, g.Namespace, o),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &one,
			Selector:     &metav1.LabelSelector{MatchLabels: selector},
		},
	}
	r.out.Deployments = append(r.out.Deployments, dep)
	r.out.Services = append(r.out.Services, svc)
	r.out.PodDisruptionBudgets = append(r.out.PodDisruptionBudgets, pdb)
	return nil
}

func servicePortName(p ir.GatewayPort) string {
	return cmpOr(p.Name, "port-"+strconv.Itoa(int(p.Port)))
}

// gatewayPod is the gateway's pod template: istiod's gateway injection template fills in the proxy;
// scheduling comes from the installation's k8s settings.
func gatewayPod(g *ir.Gateway, in *ir.GatewayInstall, selector map[string]string) (corev1.PodTemplateSpec, error) {
	podLabels := maps.Clone(selector)
	podLabels["sidecar.istio.io/inject"] = "true"
	podLabels["service.istio.io/canonical-name"] = g.Name
	podAnn := map[string]string{
		"inject.istio.io/templates": "gateway",
		"sidecar.istio.io/inject":   "true",
		"prometheus.io/scrape":      "true",
		"prometheus.io/port":        "15020",
		"prometheus.io/path":        "/stats/prometheus",
	}
	maps.Copy(podAnn, in.PodAnnotations)

	var tolerations []corev1.Toleration
	if err := decodeStrict(in.Tolerations, &tolerations); err != nil {
		return corev1.PodTemplateSpec{}, fmt.Errorf("gateway %s: k8s.tolerations: %w", g.ID, err)
	}
	var affinity *corev1.Affinity
	if in.Affinity != nil {
		affinity = &corev1.Affinity{}
		if err := decodeStrict(in.Affinity, affinity); err != nil {
			return corev1.PodTemplateSpec{}, fmt.Errorf("gateway %s: k8s.affinity: %w", g.ID, err)
		}
	}
	image := "auto" // istiod's gateway injection template replaces it with the proxy image
	if in.Hub != "" || in.Tag != "" {
		image = cmpOr(in.Hub, defaultHub) + "/proxyv2:" + cmpOr(in.Tag, defaultTag)
	}
	var cports []corev1.ContainerPort
	for _, p := range g.ServicePorts {
		cports = append(cports, corev1.ContainerPort{Name: truncPortName(servicePortName(p)), ContainerPort: int32(p.TargetPort), Protocol: corev1.ProtocolTCP})
	}
	cports = append(cports, corev1.ContainerPort{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP})
	nonRoot := true
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnn},
		Spec: corev1.PodSpec{
			ServiceAccountName: g.Name,
			NodeSelector:       in.NodeSelector,
			Tolerations:        tolerations,
			Affinity:           affinity,
			SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot},
			Containers: []corev1.Container{{
				Name:  "istio-proxy",
				Image: image,
				Ports: cports,
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/healthz/ready", Port: intstr.FromInt32(15021),
				}}},
			}},
		},
	}, nil
}

// truncPortName: a container port name is at most 15 characters.
func truncPortName(n string) string {
	if len(n) > 15 {
		return n[:15]
	}
	return n
}

// decodeStrict turns a value decoded from the user's YAML into a Kubernetes type, refusing unknown fields.
func decodeStrict(v any, into any) error {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
