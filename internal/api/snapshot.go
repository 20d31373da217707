package api

// Add appends obj to the snapshot's list for its kind.
func (s *Snapshot) Add(obj Object) {
	switch o := obj.(type) {
	case *VirtualGateway:
		s.VirtualGateways = append(s.VirtualGateways, o)
	case *ExternalService:
		s.ExternalServices = append(s.ExternalServices, o)
	case *ExternalEndpoint:
		s.ExternalEndpoints = append(s.ExternalEndpoints, o)
	case *AccessPolicy:
		s.AccessPolicies = append(s.AccessPolicies, o)
	case *GatewayLifecycleManager:
		s.GatewayLifecycleManagers = append(s.GatewayLifecycleManagers, o)
	case *IstioLifecycleManager:
		s.IstioLifecycleManagers = append(s.IstioLifecycleManagers, o)
	case *Mesh:
		s.Meshes = append(s.Meshes, o)
	case *Workload:
		s.Workloads = append(s.Workloads, o)
	case *Workspace:
		s.Workspaces = append(s.Workspaces, o)
	case *WorkspaceSettings:
		s.WorkspaceSettings = append(s.WorkspaceSettings, o)
	case *RouteTable:
		s.RouteTables = append(s.RouteTables, o)
	case *Unsupported:
		s.Unsupported = append(s.Unsupported, o)
	}
}
