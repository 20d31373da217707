package ir

// OutboundMode is what happens to a call to a host that no ExternalService names.
type OutboundMode string

const (
	// AllowAny lets unknown hosts through directly, as Istio's ALLOW_ANY does.
	AllowAny OutboundMode = "ALLOW_ANY"
	// RegistryOnly refuses unknown hosts, as Istio's REGISTRY_ONLY does.
	RegistryOnly OutboundMode = "REGISTRY_ONLY"
)

// Plan is the whole translated configuration of one mesh: every cluster's gateways, the external services,
// the egress routes between them, the access policies and the workload identities. Build it, call
// Compile once, and treat it as immutable afterwards: Decide reads the compiled index without locks.
type Plan struct {
	Outbound          OutboundMode      `json:"outbound" yaml:"outbound"`
	AccessLogEncoding string            `json:"accessLogEncoding" yaml:"accessLogEncoding"`
	Clusters          []Cluster         `json:"clusters,omitempty" yaml:"clusters,omitempty"`
	Gateways          []Gateway         `json:"gateways,omitempty" yaml:"gateways,omitempty"`
	Services          []ExternalService `json:"services,omitempty" yaml:"services,omitempty"`
	Routes            []Route           `json:"routes,omitempty" yaml:"routes,omitempty"`
	Policies          []Policy          `json:"policies,omitempty" yaml:"policies,omitempty"`
	Workloads         []Workload        `json:"workloads,omitempty" yaml:"workloads,omitempty"`
	// Workspaces, when there are any, limit which services each workload sees (see workspace.go).
	Workspaces []Workspace `json:"workspaces,omitempty" yaml:"workspaces,omitempty"`
	// RouteTables are the HTTP routes of RouteTables, in input order (see httproute.go).
	RouteTables []RouteTable `json:"routeTables,omitempty" yaml:"routeTables,omitempty"`
	// Order, when set, keys the services, route tables and policies by where they are defined (orderkeys.go).
	Order *OrderKeys `json:"-" yaml:"-"`

	compiled *index
}

// Cluster is one workload cluster and the trust domain its identities carry.
type Cluster struct {
	Name        string `json:"name" yaml:"name"`
	TrustDomain string `json:"trustDomain" yaml:"trustDomain"`
}

// Gateway is one egress gateway instance: one installation of one gateway component in one cluster.
type Gateway struct {
	// ID is cluster/namespace/name, unique in the plan.
	ID           string            `json:"id" yaml:"id"`
	Name         string            `json:"name" yaml:"name"`
	Namespace    string            `json:"namespace" yaml:"namespace"`
	Cluster      string            `json:"cluster" yaml:"cluster"`
	Revision     string            `json:"revision,omitempty" yaml:"revision,omitempty"`
	Active       bool              `json:"active" yaml:"active"`
	Labels       map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Identity     SpiffeID          `json:"identity" yaml:"identity"`
	ServicePorts []GatewayPort     `json:"servicePorts,omitempty" yaml:"servicePorts,omitempty"`
	Listeners    []Listener        `json:"listeners,omitempty" yaml:"listeners,omitempty"`
	// Install is how the gateway is deployed in Kubernetes (render/istio); nil outside a GatewayLifecycleManager.
	Install *GatewayInstall `json:"install,omitempty" yaml:"install,omitempty"`
}

// GatewayPort is a port of the gateway's Service: clients dial Port, the gateway process listens on TargetPort.
type GatewayPort struct {
	Name       string `json:"name,omitempty" yaml:"name,omitempty"`
	Port       uint32 `json:"port" yaml:"port"`
	TargetPort uint32 `json:"targetPort" yaml:"targetPort"`
}

// Listener is one VirtualGateway listener opened on one gateway.
type Listener struct {
	// VirtualGateway is the namespace/name of the VirtualGateway that opened it.
	VirtualGateway string `json:"virtualGateway" yaml:"virtualGateway"`
	// Port is the gateway Service port sidecars dial; TargetPort is where the gateway listens.
	Port       uint32 `json:"port" yaml:"port"`
	TargetPort uint32 `json:"targetPort" yaml:"targetPort"`
	TLSMode    string `json:"tlsMode,omitempty" yaml:"tlsMode,omitempty"`
	Protocol   string `json:"protocol,omitempty" yaml:"protocol,omitempty"`
	// Exposed lists the hosts the listener serves; nil means every ExternalService.
	Exposed []ExposedHost `json:"exposed,omitempty" yaml:"exposed,omitempty"`
}

// ExposedHost is one exposedExternalServices entry: a host pattern, limited to ExternalServices of one
// namespace when Namespace is set.
type ExposedHost struct {
	Namespace string      `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Host      HostPattern `json:"host" yaml:"host"`
}

// ExternalService is a destination outside the mesh.
type ExternalService struct {
	// ID is namespace/name, with "@cluster" appended when the service exists in one cluster only.
	ID        string `json:"id" yaml:"id"`
	Name      string `json:"name" yaml:"name"`
	Namespace string `json:"namespace" yaml:"namespace"`
	// Cluster is the only cluster the service exists in; "" means every cluster.
	Cluster   string            `json:"cluster,omitempty" yaml:"cluster,omitempty"`
	Labels    map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Hosts     []HostPattern     `json:"hosts,omitempty" yaml:"hosts,omitempty"`
	Addresses []string          `json:"addresses,omitempty" yaml:"addresses,omitempty"`
	Ports     []ServicePort     `json:"ports" yaml:"ports"`
	// Visibility lists the workspaces whose workloads see the service, when the plan has workspaces.
	Visibility []Visibility `json:"visibility,omitempty" yaml:"visibility,omitempty"`
}

// ServicePort is one port of an ExternalService.
type ServicePort struct {
	Name     string `json:"name,omitempty" yaml:"name,omitempty"`
	Number   uint32 `json:"number" yaml:"number"`
	Protocol string `json:"protocol,omitempty" yaml:"protocol,omitempty"`
	// TargetPort is the port dialled on the external host; TargetPortName names an endpoint port instead.
	TargetPort     uint32 `json:"targetPort,omitempty" yaml:"targetPort,omitempty"`
	TargetPortName string `json:"targetPortName,omitempty" yaml:"targetPortName,omitempty"`
	// PortMatch, when set, is the port clients call to be routed through egress gateways to this port;
	// the port's own number is then not callable directly, which is what keeps traffic on the gateway.
	PortMatch uint32       `json:"portMatch,omitempty" yaml:"portMatch,omitempty"`
	TLS       *Origination `json:"tls,omitempty" yaml:"tls,omitempty"`
	// Endpoints, when the service selects ExternalEndpoints, are where every path dials this port.
	Endpoints []UpstreamEndpoint `json:"endpoints,omitempty" yaml:"endpoints,omitempty"`
	// NoEndpoints says why a service that selects ExternalEndpoints has none for this port; its calls get 503.
	NoEndpoints string `json:"noEndpoints,omitempty" yaml:"noEndpoints,omitempty"`
}

// Origination is TLS that a proxy originates towards the external host.
type Origination struct {
	Mode string `json:"mode" yaml:"mode"`
	// SNI is empty when the service has several hosts; the requested host is sent then.
	SNI                string   `json:"sni,omitempty" yaml:"sni,omitempty"`
	CACertificates     string   `json:"caCertificates,omitempty" yaml:"caCertificates,omitempty"`
	ClientCertificate  string   `json:"clientCertificate,omitempty" yaml:"clientCertificate,omitempty"`
	PrivateKey         string   `json:"privateKey,omitempty" yaml:"privateKey,omitempty"`
	CredentialName     string   `json:"credentialName,omitempty" yaml:"credentialName,omitempty"`
	SubjectAltNames    []string `json:"subjectAltNames,omitempty" yaml:"subjectAltNames,omitempty"`
	InsecureSkipVerify bool     `json:"insecureSkipVerify,omitempty" yaml:"insecureSkipVerify,omitempty"`
}

// Route sends calls to Host:PortMatch through egress gateways to the service's upstream Port.
type Route struct {
	Host      HostPattern     `json:"host" yaml:"host"`
	PortMatch uint32          `json:"portMatch" yaml:"portMatch"`
	ServiceID string          `json:"service" yaml:"service"`
	Port      uint32          `json:"port" yaml:"port"`
	Targets   []GatewayTarget `json:"targets" yaml:"targets"`
}

// GatewayTarget is one gateway listener a route may use.
type GatewayTarget struct {
	GatewayID    string   `json:"gateway" yaml:"gateway"`
	Cluster      string   `json:"cluster" yaml:"cluster"`
	ListenerPort uint32   `json:"listenerPort" yaml:"listenerPort"`
	TargetPort   uint32   `json:"targetPort" yaml:"targetPort"`
	Identity     SpiffeID `json:"identity" yaml:"identity"`
}

// Policy is one AccessPolicy, resolved to the service ports it applies to.
type Policy struct {
	// ID is namespace/name.
	ID        string         `json:"id" yaml:"id"`
	Name      string         `json:"name" yaml:"name"`
	Namespace string         `json:"namespace" yaml:"namespace"`
	Targets   []PolicyTarget `json:"targets" yaml:"targets"`
	// Rules are OR-ed; a policy with no enforced rule restricts nothing.
	Rules []Rule `json:"rules,omitempty" yaml:"rules,omitempty"`
}

// PolicyTarget is a service, and optionally one of its ports (0 = every port), a policy applies to.
type PolicyTarget struct {
	ServiceID string `json:"service" yaml:"service"`
	Port      uint32 `json:"port,omitempty" yaml:"port,omitempty"`
}

// Rule allows a request when its clients, methods, paths and headers all match; an empty list matches anything.
type Rule struct {
	Clients []ClientMatch `json:"clients,omitempty" yaml:"clients,omitempty"`
	Methods []string      `json:"methods,omitempty" yaml:"methods,omitempty"`
	Paths   []string      `json:"paths,omitempty" yaml:"paths,omitempty"`
	Headers []HeaderMatch `json:"headers,omitempty" yaml:"headers,omitempty"`
	// DryRun rules never deny; they are evaluated apart to report what would be denied.
	DryRun bool `json:"dryRun,omitempty" yaml:"dryRun,omitempty"`
	// Never marks a rule that uses a condition egret cannot check (source IP blocks, JWT principals):
	// it matches nothing, so that an unsupported condition can never widen access.
	Never string `json:"never,omitempty" yaml:"never,omitempty"`
}

// ClientMatch matches caller identities: every non-empty field must match. The zero value matches any
// authenticated identity.
type ClientMatch struct {
	ServiceAccount string `json:"serviceAccount,omitempty" yaml:"serviceAccount,omitempty"`
	Namespace      string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// TrustDomain is that of the selected cluster: an identity's cluster is the one whose trust domain it carries.
	Cluster     string `json:"cluster,omitempty" yaml:"cluster,omitempty"`
	TrustDomain string `json:"trustDomain,omitempty" yaml:"trustDomain,omitempty"`
	// ByLabels says the selector had labels; only Identities (the workloads carrying them) match then.
	ByLabels   bool       `json:"byLabels,omitempty" yaml:"byLabels,omitempty"`
	Identities []SpiffeID `json:"identities,omitempty" yaml:"identities,omitempty"`
}

// HeaderMatch requires a request header to have one of Values (if any) and none of NotValues. A value may
// start or end with "*" to match a suffix or prefix; "*" alone matches any value.
type HeaderMatch struct {
	Name      string   `json:"name" yaml:"name"`
	Values    []string `json:"values,omitempty" yaml:"values,omitempty"`
	NotValues []string `json:"notValues,omitempty" yaml:"notValues,omitempty"`
}

// Workload is a mesh workload and the identity its sidecar presents.
type Workload struct {
	Name           string            `json:"name" yaml:"name"`
	Namespace      string            `json:"namespace" yaml:"namespace"`
	Cluster        string            `json:"cluster" yaml:"cluster"`
	ServiceAccount string            `json:"serviceAccount" yaml:"serviceAccount"`
	Labels         map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Identity       SpiffeID          `json:"identity" yaml:"identity"`
	Sidecar        *Sidecar          `json:"sidecar,omitempty" yaml:"sidecar,omitempty"`
}

// Sidecar is how a standalone workload's sidecar intercepts traffic.
type Sidecar struct {
	Listen string `json:"listen,omitempty" yaml:"listen,omitempty"`
	Mode   string `json:"mode,omitempty" yaml:"mode,omitempty"`
}
