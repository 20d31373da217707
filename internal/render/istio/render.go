// Package istio renders a translated plan as the Istio and Kubernetes objects that make Envoy, configured
// by istiod, do in one workload cluster what egret's own proxies do: route through the egress gateway,
// originate TLS, and allow only the callers the access policies name.
package istio

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"egret.dev/egret/internal/ir"
)

// Object is what every rendered object is: a Kubernetes object with metadata (controller-runtime's
// client.Object has the same method set).
type Object interface {
	metav1.Object
	runtime.Object
}

// Output is the rendered configuration of one workload cluster, by kind.
type Output struct {
	Cluster string
	// MeshConfig is istiod's mesh configuration (the `istio` ConfigMap in istio-system, the same settings
	// the IstioOperator's meshConfig and the istiod Helm chart's meshConfig values hold).
	MeshConfig            *corev1.ConfigMap
	ServiceAccounts       []*corev1.ServiceAccount
	Deployments           []*appsv1.Deployment
	Services              []*corev1.Service
	PodDisruptionBudgets  []*policyv1.PodDisruptionBudget
	ServiceEntries        []*networkingv1.ServiceEntry
	Gateways              []*networkingv1.Gateway
	VirtualServices       []*networkingv1.VirtualService
	DestinationRules      []*networkingv1.DestinationRule
	AuthorizationPolicies []*securityv1.AuthorizationPolicy
	NetworkPolicies       []*netv1.NetworkPolicy
	// Warnings say what of the plan has no Istio equivalent here and was left out (never widening access).
	Warnings []string `json:"-"`
}

// Objects lists every object in apply order: mesh settings and the gateway first, then Istio config.
func (o *Output) Objects() []Object {
	var out []Object
	if o.MeshConfig != nil {
		out = append(out, o.MeshConfig)
	}
	for _, x := range o.ServiceAccounts {
		out = append(out, x)
	}
	for _, x := range o.Deployments {
		out = append(out, x)
	}
	for _, x := range o.Services {
		out = append(out, x)
	}
	for _, x := range o.PodDisruptionBudgets {
		out = append(out, x)
	}
	for _, x := range o.ServiceEntries {
		out = append(out, x)
	}
	for _, x := range o.Gateways {
		out = append(out, x)
	}
	for _, x := range o.VirtualServices {
		out = append(out, x)
	}
	for _, x := range o.DestinationRules {
		out = append(out, x)
	}
	for _, x := range o.AuthorizationPolicies {
		out = append(out, x)
	}
	for _, x := range o.NetworkPolicies {
		out = append(out, x)
	}
	return out
}

// Render builds the objects of one workload cluster of the plan.
func Render(plan *ir.Plan, cluster string) (*Output, error) {
	r, err := newRenderer(plan, cluster)
	if err != nil {
		return nil, err
	}
	out := &Output{Cluster: cluster}
	r.out = out
	r.meshConfig()
	if err := r.gatewayInstalls(); err != nil {
		return nil, err
	}
	r.serviceEntries()
	r.originations()
	r.egressRoutes()
	r.wildcardShadows()
	r.routeTables()
	r.authorizationPolicies()
	r.networkPolicies()
	return out, nil
}

// RenderAll renders every cluster of the plan, in the plan's order.
func RenderAll(plan *ir.Plan) ([]*Output, error) {
	var outs []*Output
	for _, c := range plan.Clusters {
		o, err := Render(plan, c.Name)
		if err != nil {
			return nil, err
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// renderer holds what every object of one cluster needs.
type renderer struct {
	plan    *ir.Plan
	cluster string
	td      string
	version string
	out     *Output
	// groups are the cluster's gateways by namespace/name, their revisions in plan order.
	groups   map[string]*gatewayGroup
	order    []string
	services map[string]*ir.ExternalService
	// tableHosts are, per gateway (namespace/name) and AccessPolicy, the authorization hosts of the
	// gateway RouteTables whose destinations the policy restricts (gatewaytables.go).
	tableHosts map[string]map[string][]string
}

// gatewayGroup is one gateway (namespace/name) in the cluster with its revisions; active is the revision
// sidecars are sent to (the installation whose cluster entry says activeGateway).
type gatewayGroup struct {
	revisions []*ir.Gateway
	active    *ir.Gateway
}

func newRenderer(plan *ir.Plan, cluster string) (*renderer, error) {
	r := &renderer{plan: plan, cluster: cluster, groups: map[string]*gatewayGroup{}, services: map[string]*ir.ExternalService{}}
	var names []string
	for _, c := range plan.Clusters {
		names = append(names, c.Name)
		if c.Name == cluster {
			r.td = c.TrustDomain
		}
	}
	if !slices.Contains(names, cluster) {
		return nil, fmt.Errorf("cluster %q is not in the plan (clusters: %s)", cluster, strings.Join(names, ", "))
	}
	b, err := json.Marshal(plan)
	if err != nil {
		return nil, fmt.Errorf("plan version: %w", err)
	}
	sum := sha256.Sum256(b)
	r.version = hex.EncodeToString(sum[:8])
	for i := range plan.Gateways {
		g := &plan.Gateways[i]
		if g.Cluster != cluster {
			continue
		}
		key := g.Namespace + "/" + g.Name
		grp := r.groups[key]
		if grp == nil {
			grp = &gatewayGroup{}
			r.groups[key] = grp
			r.order = append(r.order, key)
		}
		grp.revisions = append(grp.revisions, g)
		if g.Active && grp.active == nil {
			grp.active = g
		}
	}
	for _, grp := range r.groups {
		if grp.active == nil {
			grp.active = grp.revisions[0]
		}
	}
	for i := range plan.Services {
		s := &plan.Services[i]
		if s.Cluster == "" || s.Cluster == cluster {
			r.services[s.ID] = s
		}
	}
	return r, nil
}

// gatewayOf is the group of a plan gateway ID (cluster/namespace/name) in this cluster, if any.
func (r *renderer) gatewayOf(id string) *gatewayGroup {
	c, rest, _ := strings.Cut(id, "/")
	if c != r.cluster {
		return nil
	}
	return r.groups[rest]
}

// serviceName is the Kubernetes Service of a gateway revision: the gateway's name, with the revision
// appended when it has one, so that each revision of a canary is addressed on its own.
func serviceName(g *ir.Gateway) string {
	if g.Revision == "" {
		return g.Name
	}
	return objectName(g.Name, g.Revision)
}

func serviceHost(g *ir.Gateway) string {
	return serviceName(g) + "." + g.Namespace + ".svc.cluster.local"
}

func (r *renderer) warnf(format string, args ...any) {
	r.out.Warnings = append(r.out.Warnings, fmt.Sprintf(format, args...))
}
