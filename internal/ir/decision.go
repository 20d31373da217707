package ir

// DeniedBody is the public answer to a request an AccessPolicy denies (Envoy's RBAC filter text, which
// clients and tests of the seed look for); the Decision's Reason is the internal cause and is only logged.
const DeniedBody = "RBAC: access denied"

// Kind says how a request is handled.
type Kind string

const (
	// KindPassthrough: the host is in no ExternalService and the mesh allows any outbound call.
	KindPassthrough Kind = "Passthrough"
	// KindNotInRegistry: the host:port is in no ExternalService and the mesh is REGISTRY_ONLY.
	KindNotInRegistry Kind = "NotInRegistry"
	// KindRouted: the call goes through an egress gateway (an egressGatewayRoutes portMatch was called).
	KindRouted Kind = "Routed"
	// KindDirect: an ExternalService port called directly, without a gateway.
	KindDirect Kind = "Direct"
	// KindDenied: an AccessPolicy, or the caller's identity, forbids the call.
	KindDenied Kind = "Denied"
	// KindNoRoute: the call would be routed through gateways but no gateway listener serves the host.
	KindNoRoute Kind = "NoRoute"
	// KindRouteNotFound: a RouteTable claims the host and none of its routes matches (404, as in Gloo).
	KindRouteNotFound Kind = "RouteNotFound"
	// KindNoEndpoints: the service selects ExternalEndpoints and none serves the port; never allowed.
	KindNoEndpoints Kind = "NoEndpoints"
)

// Headers returns the values of a request header (case-insensitive name); http.Header.Values fits.
type Headers func(name string) []string

// Request is one call to be decided.
type Request struct {
	// Source is the caller's verified identity; the zero ID is an unauthenticated caller.
	Source SpiffeID
	// SourceText, when set, is Source.String() made once by the caller (a proxy keeps it per
	// connection or config), so a decision does not format it again.
	SourceText string
	// Cluster is the caller's cluster; empty means the first cluster of the plan with the source's trust domain.
	Cluster string
	Host    string
	Port    uint32
	Method  string
	Path    string
	Headers Headers
	// Opaque marks a TLS or TCP stream, which has no method, path or headers to match.
	Opaque bool
	// Gateway is the ID of the gateway deciding; empty at a sidecar (and in `egret check` asking as one).
	// It says which RouteTables apply: mesh tables at sidecars, gateway tables at their gateways.
	Gateway string
	// Pick chooses among a route's weighted destinations (Pick % 100); proxies draw it at random per request.
	Pick uint32
}

// Decision is the answer to a Request, with everything a proxy needs to act on it and log it.
type Decision struct {
	Allow bool `json:"allow"`
	Kind  Kind `json:"kind"`
	// Reason says why, always; for a deny it names what did not match.
	Reason string `json:"reason"`
	// Policy is the AccessPolicy (namespace/name) that allowed or denied the request, if any.
	Policy  string `json:"policy,omitempty"`
	Source  string `json:"source,omitempty"`
	Cluster string `json:"cluster,omitempty"`
	Host    string `json:"host"`
	Port    uint32 `json:"port"`
	// Service, ServicePort and Route describe the registry entry the request matched.
	Service     string      `json:"service,omitempty"`
	ServicePort uint32      `json:"servicePort,omitempty"`
	Route       HostPattern `json:"route,omitempty"`
	// Targets are the gateway listeners to use, the caller's own cluster first.
	Targets []GatewayTarget `json:"targets,omitempty"`
	// Upstream is host:port finally dialled (by the gateway when routed).
	Upstream string `json:"upstream,omitempty"`
	// Endpoints, when set, are the addresses dialled instead of Upstream's host (the service's
	// ExternalEndpoints); proxies spread calls over them and fail over on connect errors.
	Endpoints []UpstreamEndpoint `json:"endpoints,omitempty"`
	TLSMode   string             `json:"tlsMode,omitempty"`
	SNI       string             `json:"sni,omitempty"`
	// DryRunDeny says dry-run rules applied and none matched: the request would be denied if enforced.
	DryRunDeny   bool   `json:"dryRunDeny,omitempty"`
	DryRunReason string `json:"dryRunReason,omitempty"`
	DryRunPolicy string `json:"dryRunPolicy,omitempty"`
	// Workspace is the caller's workspace and Visibility the workspace rule that showed or hid the
	// service, when the plan has workspaces.
	Workspace  string `json:"workspace,omitempty"`
	Visibility string `json:"visibility,omitempty"`
	// RouteTable is the RouteTable and route ("ns/name route[i] name") that chose the destination; Host,
	// Port then describe the chosen service, and RoutedFrom the host:port the caller asked for.
	RouteTable string       `json:"routeTable,omitempty"`
	RoutedFrom string       `json:"routedFrom,omitempty"`
	Split      []RouteSplit `json:"split,omitempty"`
	// Overlap says which other claim on the host:port lost to a gateway route, and why (overlap.go).
	Overlap string `json:"overlap,omitempty"`
}
