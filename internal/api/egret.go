package api

// Mesh holds standalone mesh settings.
type Mesh struct {
	Header `json:",inline"`
	Spec   MeshSpec `json:"spec"`
}

type MeshSpec struct {
	// TrustDomain, when set, is the trust domain of every cluster that does not name its own.
	TrustDomain           string                 `json:"trustDomain,omitempty"`
	OutboundTrafficPolicy *OutboundTrafficPolicy `json:"outboundTrafficPolicy,omitempty"`
	AccessLog             *AccessLogSpec         `json:"accessLog,omitempty"`
}

type AccessLogSpec struct {
	Encoding AccessLogEncoding `json:"encoding,omitempty"`
}

// Workload is a standalone workload whose sidecar `egret up` starts.
type Workload struct {
	Header `json:",inline"`
	Spec   WorkloadSpec `json:"spec"`
}

type WorkloadSpec struct {
	ServiceAccount string            `json:"serviceAccount"`
	Cluster        string            `json:"cluster"`
	Labels         map[string]string `json:"labels,omitempty"`
	Sidecar        *SidecarSpec      `json:"sidecar,omitempty"`
}

type SidecarSpec struct {
	Listen string      `json:"listen,omitempty"`
	Mode   SidecarMode `json:"mode,omitempty"`
}

// Snapshot is every object from one load, in the order read.
type Snapshot struct {
	VirtualGateways          []*VirtualGateway
	ExternalServices         []*ExternalService
	ExternalEndpoints        []*ExternalEndpoint
	AccessPolicies           []*AccessPolicy
	GatewayLifecycleManagers []*GatewayLifecycleManager
	IstioLifecycleManagers   []*IstioLifecycleManager
	Meshes                   []*Mesh
	Workloads                []*Workload
	Workspaces               []*Workspace
	WorkspaceSettings        []*WorkspaceSettings
	RouteTables              []*RouteTable
	// Unsupported are Gloo objects of kinds egret does not implement: reported, then ignored.
	Unsupported []*Unsupported
}

// Objects lists every object of the snapshot, kind by kind.
func (s *Snapshot) Objects() []Object {
	var out []Object
	for _, o := range s.VirtualGateways {
		out = append(out, o)
	}
	for _, o := range s.ExternalServices {
		out = append(out, o)
	}
	for _, o := range s.ExternalEndpoints {
		out = append(out, o)
	}
	for _, o := range s.AccessPolicies {
		out = append(out, o)
	}
	for _, o := range s.GatewayLifecycleManagers {
		out = append(out, o)
	}
	for _, o := range s.IstioLifecycleManagers {
		out = append(out, o)
	}
	for _, o := range s.Meshes {
		out = append(out, o)
	}
	for _, o := range s.Workloads {
		out = append(out, o)
	}
	for _, o := range s.Workspaces {
		out = append(out, o)
	}
	for _, o := range s.WorkspaceSettings {
		out = append(out, o)
	}
	for _, o := range s.RouteTables {
		out = append(out, o)
	}
	for _, o := range s.Unsupported {
		out = append(out, o)
	}
	return out
}
