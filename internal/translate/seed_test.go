package translate

import "egret.dev/egret/internal/api"

// The seed's scenario, built in Go as the decoder (with its defaults applied) would produce it.

func hdr(apiVersion, kind, ns, name string) api.Header {
	return api.Header{APIVersion: apiVersion, Kind: kind, Metadata: api.ObjectMeta{Name: name, Namespace: ns}}
}

func seedMesh(mode api.OutboundMode) *api.Mesh {
	return &api.Mesh{
		Header: hdr(api.EgretV1, api.KindMesh, "", "mesh"),
		Spec:   api.MeshSpec{OutboundTrafficPolicy: &api.OutboundTrafficPolicy{Mode: mode}},
	}
}

func seedGLM(clusters ...string) *api.GatewayLifecycleManager {
	var cs []api.GatewayCluster
	for _, c := range clusters {
		cs = append(cs, api.GatewayCluster{Name: c, ActiveGateway: true})
	}
	enabled := true
	return &api.GatewayLifecycleManager{
		Header: hdr(api.AdminV2, api.KindGatewayLifecycleManager, "gloo-mesh", "istio-egressgateway"),
		Spec: api.GatewayLifecycleManagerSpec{Installations: []api.GatewayInstallation{{
			GatewayRevision: "1-24",
			Clusters:        cs,
			IstioOperatorSpec: &api.IstioOperatorSpec{
				Profile: "empty",
				MeshConfig: &api.MeshConfig{
					// The gateway's own meshConfig: it must not set the mesh's outbound policy.
					OutboundTrafficPolicy: &api.OutboundTrafficPolicy{Mode: api.OutboundRegistryOnly},
				},
				Components: &api.Components{EgressGateways: []api.GatewaySpec{{
					Name:      "istio-egressgateway",
					Namespace: "gloo-mesh-gateways",
					Enabled:   &enabled,
					Label:     map[string]string{"istio": "egressgateway", "app": "istio-egressgateway", "traffic": "egress"},
					K8s: &api.GatewayK8s{Service: &api.ServiceSpec{
						Type:     "LoadBalancer",
						Selector: map[string]string{"istio": "egressgateway"},
						Ports: []api.ServicePortSpec{
							{Port: 15021, TargetPort: 15021, Name: "status-port"},
							{Port: 15443, TargetPort: 15443, Name: "tls"},
							{Port: 443, TargetPort: 8443, Name: "https"},
						},
					}},
				}}},
			},
		}}},
	}
}

func seedVG() *api.VirtualGateway {
	return &api.VirtualGateway{
		Header: hdr(api.NetworkingV2, api.KindVirtualGateway, "bookinfo", "istio-egressgateway"),
		Spec: api.VirtualGatewaySpec{
			Workloads: []api.WorkloadSelector{{Selector: &api.ObjectSelector{Labels: map[string]string{"istio": "egressgateway"}}}},
			Listeners: []api.Listener{{
				Port:                    api.PortSelector{Number: 443},
				TLS:                     &api.ServerTLS{Mode: api.ServerTLSIstioMutual},
				HTTP:                    &api.Empty{},
				AppProtocol:             "HTTPS",
				ExposedExternalServices: []api.ExternalServiceFilter{{Host: "www.google.com"}},
			}},
		},
	}
}

func seedGoogle() *api.ExternalService {
	return &api.ExternalService{
		Header: hdr(api.NetworkingV2, api.KindExternalService, "bookinfo", "google"),
		Spec: api.ExternalServiceSpec{
			Hosts: []string{"www.google.com"},
			Ports: []api.ServicePort{{
				Name: "https", Number: 443, Protocol: api.ProtocolHTTPS,
				TargetPort:    &api.PortSelector{Number: 443},
				ClientsideTLS: &api.ClientTLS{Mode: api.ClientTLSSimple, SNI: "www.google.com"},
				EgressGatewayRoutes: &api.EgressGatewayRoutes{PortMatch: 80, VirtualGatewayRefs: []api.ObjectReference{
					{Name: "istio-egressgateway", Namespace: "bookinfo", Cluster: "cluster1"},
					{Name: "istio-egressgateway", Namespace: "bookinfo", Cluster: "cluster2"},
				}},
			}},
		},
	}
}

func seedPolicy() *api.AccessPolicy {
	return &api.AccessPolicy{
		Header: hdr(api.SecurityV2, api.KindAccessPolicy, "bookinfo", "egress-access-productpage"),
		Spec: api.AccessPolicySpec{
			ApplyToDestinations: []api.DestinationSelector{{
				Kind: api.DestinationExternalService, Selector: &api.ObjectSelector{Name: "google", Namespace: "bookinfo"},
			}},
			Config: api.AccessPolicyConfig{
				Authn: &api.Authn{TLSMode: "STRICT"},
				Authz: &api.Authorization{AllowedClients: []api.IdentitySelector{
					{ServiceAccountSelector: &api.ObjectSelector{Name: "bookinfo-productpage"}},
				}},
			},
		},
	}
}

func seedWorkload(name, sa, cluster string, labels map[string]string) *api.Workload {
	return &api.Workload{
		Header: hdr(api.EgretV1, api.KindWorkload, "bookinfo", name),
		Spec:   api.WorkloadSpec{ServiceAccount: sa, Cluster: cluster, Labels: labels},
	}
}

// seedSnapshot is the seed scenario: REGISTRY_ONLY, gateways in cluster1 and cluster2, google via the
// gateways, and only productpage allowed.
func seedSnapshot() *api.Snapshot {
	return &api.Snapshot{
		Meshes:                   []*api.Mesh{seedMesh(api.OutboundRegistryOnly)},
		GatewayLifecycleManagers: []*api.GatewayLifecycleManager{seedGLM("cluster1", "cluster2")},
		VirtualGateways:          []*api.VirtualGateway{seedVG()},
		ExternalServices:         []*api.ExternalService{seedGoogle()},
		AccessPolicies:           []*api.AccessPolicy{seedPolicy()},
		Workloads: []*api.Workload{
			seedWorkload("productpage", "bookinfo-productpage", "cluster1", map[string]string{"app": "productpage"}),
			seedWorkload("reviews", "bookinfo-reviews", "cluster1", map[string]string{"app": "reviews"}),
		},
	}
}
