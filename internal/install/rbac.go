package install

import (
	rbacv1 "k8s.io/api/rbac/v1"
)

// Verbs, named once so each rule reads as what it allows.
var (
	readVerbs   = []string{"get", "list", "watch"}
	statusVerbs = []string{"update", "patch"}
	eventVerbs  = []string{"create", "patch"}
	// ownVerbs are what server-side apply (get, patch; create and update on conflicts), the watch
	// behind the apply cache and garbage collection (list, delete) need on a rendered kind.
	ownVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
)

// SourceKind is one kind the controller reads in the management cluster (one CRD each).
type SourceKind struct {
	Group, Version, Kind, Plural string
}

// SourceKinds are the CRD kinds egret decodes, as the CRDs name them (deploy/helm/egret/crds).
// A test checks that every kind internal/api decodes is here.
var SourceKinds = []SourceKind{
	{"networking.gloo.solo.io", "v2", "ExternalService", "externalservices"},
	{"networking.gloo.solo.io", "v2", "ExternalEndpoint", "externalendpoints"},
	{"networking.gloo.solo.io", "v2", "VirtualGateway", "virtualgateways"},
	{"networking.gloo.solo.io", "v2", "RouteTable", "routetables"},
	{"security.policy.gloo.solo.io", "v2", "AccessPolicy", "accesspolicies"},
	{"admin.gloo.solo.io", "v2", "GatewayLifecycleManager", "gatewaylifecyclemanagers"},
	{"admin.gloo.solo.io", "v2", "IstioLifecycleManager", "istiolifecyclemanagers"},
	{"admin.gloo.solo.io", "v2", "Workspace", "workspaces"},
	{"admin.gloo.solo.io", "v2", "WorkspaceSettings", "workspacesettings"},
	{"egret.dev", "v1alpha1", "Mesh", "meshes"},
	{"egret.dev", "v1alpha1", "Workload", "workloads"},
}

// controllerRules are the controller's cluster-wide rights in the management cluster: read every
// source kind in every namespace, write only their status, and record events on them.
func controllerRules() []rbacv1.PolicyRule {
	var groups []string
	byGroup := map[string][]string{}
	for _, k := range SourceKinds {
		if _, ok := byGroup[k.Group]; !ok {
			groups = append(groups, k.Group)
		}
		byGroup[k.Group] = append(byGroup[k.Group], k.Plural)
	}
	var rules []rbacv1.PolicyRule
	for _, g := range groups {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: byGroup[g], Verbs: readVerbs})
		var status []string
		for _, p := range byGroup[g] {
			status = append(status, p+"/status")
		}
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: status, Verbs: statusVerbs})
	}
	return append(rules,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: eventVerbs},
		rbacv1.PolicyRule{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: eventVerbs},
	)
}

// namespaceRules are the controller's rights in its own namespace: the workload-cluster Secrets
// (read only; a label-selected watch still needs list and watch on Secrets) and its Lease. A Lease
// is created by name, which RBAC cannot restrict, so create is granted apart from get and update.
func namespaceRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: readVerbs},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{LeaseName}, Verbs: []string{"get", "update"}},
	}
}

// WorkloadRules are what the controller needs in a workload cluster (and in its own cluster with
// --local-cluster): own the kinds internal/render/istio renders, and make sure their namespaces exist.
func WorkloadRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"networking.istio.io"}, Resources: []string{"serviceentries", "gateways", "virtualservices", "destinationrules", "workloadentries"}, Verbs: ownVerbs},
		{APIGroups: []string{"security.istio.io"}, Resources: []string{"authorizationpolicies"}, Verbs: ownVerbs},
		{APIGroups: []string{""}, Resources: []string{"configmaps", "services", "serviceaccounts"}, Verbs: ownVerbs},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "create"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: ownVerbs},
		{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: ownVerbs},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: ownVerbs},
	}
}
