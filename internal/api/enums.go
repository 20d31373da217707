package api

// Enum is implemented by string types whose value must be one of a fixed set; the decoder enforces it.
type Enum interface {
	EnumValues() []string
}

// Protocol of an ExternalService port.
type Protocol string

const (
	ProtocolHTTP  Protocol = "HTTP"
	ProtocolHTTPS Protocol = "HTTPS"
	ProtocolGRPC  Protocol = "GRPC"
	ProtocolHTTP2 Protocol = "HTTP2"
	ProtocolMongo Protocol = "MONGO"
	ProtocolTCP   Protocol = "TCP"
	ProtocolTLS   Protocol = "TLS"
)

func (Protocol) EnumValues() []string {
	return []string{"HTTP", "HTTPS", "GRPC", "HTTP2", "MONGO", "TCP", "TLS"}
}

// ClientTLSMode is how a proxy originates TLS to an external host (clientsideTls.mode).
type ClientTLSMode string

const (
	ClientTLSSimple      ClientTLSMode = "SIMPLE"
	ClientTLSDisable     ClientTLSMode = "DISABLE"
	ClientTLSMutual      ClientTLSMode = "MUTUAL"
	ClientTLSIstioMutual ClientTLSMode = "ISTIO_MUTUAL"
)

func (ClientTLSMode) EnumValues() []string {
	return []string{"SIMPLE", "DISABLE", "MUTUAL", "ISTIO_MUTUAL"}
}

// ServerTLSMode is how a VirtualGateway listener terminates TLS (tls.mode).
type ServerTLSMode string

const (
	ServerTLSPassthrough     ServerTLSMode = "PASSTHROUGH"
	ServerTLSSimple          ServerTLSMode = "SIMPLE"
	ServerTLSMutual          ServerTLSMode = "MUTUAL"
	ServerTLSAutoPassthrough ServerTLSMode = "AUTO_PASSTHROUGH"
	ServerTLSIstioMutual     ServerTLSMode = "ISTIO_MUTUAL"
)

func (ServerTLSMode) EnumValues() []string {
	return []string{"PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL"}
}

// AppProtocol of a VirtualGateway listener.
type AppProtocol string

func (AppProtocol) EnumValues() []string {
	return []string{"GRPC", "GRPC-WEB", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TCP", "TLS", "MONGO", "REDIS", "MYSQL"}
}

// DestinationKind is what an AccessPolicy applies to.
type DestinationKind string

const (
	DestinationService            DestinationKind = "SERVICE"
	DestinationVirtualDestination DestinationKind = "VIRTUAL_DESTINATION"
	DestinationExternalService    DestinationKind = "EXTERNAL_SERVICE"
)

func (DestinationKind) EnumValues() []string {
	return []string{"SERVICE", "VIRTUAL_DESTINATION", "EXTERNAL_SERVICE"}
}

// PeerTLSMode is an AccessPolicy's authn.tlsMode (Istio PeerAuthentication modes).
type PeerTLSMode string

func (PeerTLSMode) EnumValues() []string { return []string{"DISABLE", "PERMISSIVE", "STRICT"} }

// OutboundMode is the mesh's outboundTrafficPolicy.mode.
type OutboundMode string

const (
	OutboundAllowAny     OutboundMode = "ALLOW_ANY"
	OutboundRegistryOnly OutboundMode = "REGISTRY_ONLY"
)

func (OutboundMode) EnumValues() []string { return []string{"ALLOW_ANY", "REGISTRY_ONLY"} }

// AccessLogEncoding is the access log format (Istio's meshConfig.accessLogEncoding).
type AccessLogEncoding string

const (
	AccessLogJSON AccessLogEncoding = "JSON"
	AccessLogText AccessLogEncoding = "TEXT"
)

func (AccessLogEncoding) EnumValues() []string { return []string{"JSON", "TEXT"} }

// WorkloadKind is a VirtualGateway workload selector's kind.
type WorkloadKind string

func (WorkloadKind) EnumValues() []string { return []string{"KUBE", "VM"} }

// SidecarMode is how a standalone workload's traffic reaches its sidecar.
type SidecarMode string

const (
	SidecarExplicit    SidecarMode = "explicit"
	SidecarTransparent SidecarMode = "transparent"
)

func (SidecarMode) EnumValues() []string { return []string{"explicit", "transparent"} }
