package api

// Kinds of Gloo's tenancy resources.
const (
	KindWorkspace         = "Workspace"
	KindWorkspaceSettings = "WorkspaceSettings"
)

// AdminNamespace is where Gloo keeps its admin resources; a WorkspaceSettings named "global" there applies
// to every workspace.
const AdminNamespace = "gloo-mesh"

// GlobalWorkspaceSettings is the name of the WorkspaceSettings that applies to every workspace.
const GlobalWorkspaceSettings = "global"

// Workspace is a tenant: a set of namespaces in clusters whose resources see each other.
type Workspace struct {
	Header `json:",inline"`
	Spec   WorkspaceSpec `json:"spec"`
}

type WorkspaceSpec struct {
	// WorkloadClusters lists the clusters and, in each, the namespaces of the workspace; none = an empty workspace.
	WorkloadClusters []WorkspaceCluster `json:"workloadClusters,omitempty"`
}

// WorkspaceCluster selects clusters by name (with * patterns) and namespaces in them.
type WorkspaceCluster struct {
	Name string `json:"name,omitempty"`
	// Selector matches KubernetesCluster labels; egret has no KubernetesCluster objects.
	Selector      map[string]string    `json:"selector,omitempty"`
	Namespaces    []WorkspaceNamespace `json:"namespaces,omitempty"`
	ConfigEnabled *bool                `json:"configEnabled,omitempty"`
}

// WorkspaceNamespace selects namespaces by name (with * patterns).
type WorkspaceNamespace struct {
	Name string `json:"name,omitempty"`
	// Labels match Namespace labels; egret has no Namespace objects.
	Labels        map[string]string `json:"labels,omitempty"`
	ConfigEnabled *bool             `json:"configEnabled,omitempty"`
}

// WorkspaceSettings says what a workspace shares with (exportTo) and takes from (importFrom) others.
type WorkspaceSettings struct {
	Header `json:",inline"`
	Spec   WorkspaceSettingsSpec `json:"spec"`
}

type WorkspaceSettingsSpec struct {
	ImportFrom []WorkspaceShare  `json:"importFrom,omitempty"`
	ExportTo   []WorkspaceShare  `json:"exportTo,omitempty"`
	Options    *WorkspaceOptions `json:"options,omitempty"`
}

// WorkspaceShare is one importFrom or exportTo entry: the other workspaces, and which of the resources.
type WorkspaceShare struct {
	Workspaces []WorkspaceSelector `json:"workspaces,omitempty"`
	// Resources filters what is shared; none = every resource.
	Resources []ResourceSelector `json:"resources,omitempty"`
}

// WorkspaceSelector picks workspaces by name (* patterns) or by their labels.
type WorkspaceSelector struct {
	Name     string            `json:"name,omitempty"`
	Selector map[string]string `json:"selector,omitempty"`
}

// ResourceSelector picks resources of a kind by labels, name, namespace and cluster; an empty field matches any.
type ResourceSelector struct {
	Kind      ResourceKind      `json:"kind,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Name      string            `json:"name,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	Cluster   string            `json:"cluster,omitempty"`
}

// WorkspaceOptions are Gloo's per-workspace mesh options; egret reads none of them (see the validator).
type WorkspaceOptions struct {
	ServiceIsolation      *ServiceIsolation `json:"serviceIsolation,omitempty"`
	Federation            *Federation       `json:"federation,omitempty"`
	EastWestGateways      []Raw             `json:"eastWestGateways,omitempty"`
	VirtualDestClientMode *Raw              `json:"virtualDestClientMode,omitempty"`
	TrimAllProxyConfig    *bool             `json:"trimAllProxyConfig,omitempty"`
}

type ServiceIsolation struct {
	Enabled           bool               `json:"enabled,omitempty"`
	TrimProxyConfig   *bool              `json:"trimProxyConfig,omitempty"`
	EnforcementLayers *EnforcementLayers `json:"enforcementLayers,omitempty"`
}

type Federation struct {
	Enabled         bool   `json:"enabled,omitempty"`
	HostSuffix      string `json:"hostSuffix,omitempty"`
	ServiceSelector []Raw  `json:"serviceSelector,omitempty"`
	Ports           []Raw  `json:"ports,omitempty"`
}

// ResourceKind is the kind a WorkspaceSettings resource selector shares.
type ResourceKind string

const (
	ResourceAll             ResourceKind = "ALL"
	ResourceExternalService ResourceKind = "EXTERNAL_SERVICE"
)

func (ResourceKind) EnumValues() []string {
	return []string{"ALL", "ROUTE_TABLE", "SERVICE", "VIRTUAL_DESTINATION", "EXTERNAL_SERVICE", "API_DOC",
		"GRAPHQL_RESOLVER_MAP", "GRAPHQL_SCHEMA", "GRAPHQL_STITCHED_SCHEMA", "EXTERNAL_WORKLOAD"}
}

// SharesExternalServices reports whether a selector of this kind can select ExternalServices.
func (k ResourceKind) SharesExternalServices() bool {
	return k == "" || k == ResourceAll || k == ResourceExternalService
}
