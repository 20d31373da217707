package api

// VirtualGateway selects gateway workloads and opens listeners on them.
type VirtualGateway struct {
	Header `json:",inline"`
	Spec   VirtualGatewaySpec `json:"spec"`
}

type VirtualGatewaySpec struct {
	// Workloads nil selects every gateway; an entry with a nil selector selects nothing.
	Workloads []WorkloadSelector `json:"workloads,omitempty"`
	Listeners []Listener         `json:"listeners"`
}

type WorkloadSelector struct {
	Selector *ObjectSelector `json:"selector,omitempty"`
	Kind     WorkloadKind    `json:"kind,omitempty"`
	Port     *PortSelector   `json:"port,omitempty"`
}

type Listener struct {
	Port                    PortSelector            `json:"port"`
	TLS                     *ServerTLS              `json:"tls,omitempty"`
	HTTPSRedirect           bool                    `json:"httpsRedirect,omitempty"`
	HTTP                    *Empty                  `json:"http,omitempty"`
	TCP                     *Empty                  `json:"tcp,omitempty"`
	AppProtocol             AppProtocol             `json:"appProtocol,omitempty"`
	AllowedRouteTables      []Raw                   `json:"allowedRouteTables,omitempty"`
	ExposedExternalServices []ExternalServiceFilter `json:"exposedExternalServices,omitempty"`
}

// Empty is a message with no fields (`http: {}`).
type Empty struct{}

type ServerTLS struct {
	Mode                 ServerTLSMode `json:"mode,omitempty"`
	SecretName           string        `json:"secretName,omitempty"`
	Files                *TLSFiles     `json:"files,omitempty"`
	VerifySubjectAltName []string      `json:"verifySubjectAltName,omitempty"`
	Parameters           *Raw          `json:"parameters,omitempty"`
}

type TLSFiles struct {
	ServerCert string `json:"serverCert,omitempty"`
	PrivateKey string `json:"privateKey,omitempty"`
	CACerts    string `json:"caCerts,omitempty"`
}

type ExternalServiceFilter struct {
	Host     string          `json:"host"`
	Selector *ObjectSelector `json:"selector,omitempty"`
}

// ExternalService is a destination outside the mesh.
type ExternalService struct {
	Header `json:",inline"`
	Spec   ExternalServiceSpec `json:"spec"`
}

type ExternalServiceSpec struct {
	Hosts           []string          `json:"hosts,omitempty"`
	Addresses       []string          `json:"addresses,omitempty"`
	Ports           []ServicePort     `json:"ports,omitempty"`
	Selector        map[string]string `json:"selector,omitempty"`
	SubjectAltNames []string          `json:"subjectAltNames,omitempty"`
}

type ServicePort struct {
	Number              uint32               `json:"number"`
	Name                string               `json:"name,omitempty"`
	Protocol            Protocol             `json:"protocol,omitempty"`
	TargetPort          *PortSelector        `json:"targetPort,omitempty"`
	ClientsideTLS       *ClientTLS           `json:"clientsideTls,omitempty"`
	EgressGatewayRoutes *EgressGatewayRoutes `json:"egressGatewayRoutes,omitempty"`
}

// ClientTLS is TLS originated by a proxy towards an external host.
type ClientTLS struct {
	Mode               ClientTLSMode `json:"mode,omitempty"`
	SNI                string        `json:"sni,omitempty"`
	CACertificates     string        `json:"caCertificates,omitempty"`
	ClientCertificate  string        `json:"clientCertificate,omitempty"`
	PrivateKey         string        `json:"privateKey,omitempty"`
	CredentialName     string        `json:"credentialName,omitempty"`
	SubjectAltNames    []string      `json:"subjectAltNames,omitempty"`
	InsecureSkipVerify *bool         `json:"insecureSkipVerify,omitempty"`
}

type EgressGatewayRoutes struct {
	// PortMatch is the port clients call in the mesh; 0 after decoding means it was omitted (default 80).
	PortMatch          uint32            `json:"portMatch,omitempty"`
	VirtualGatewayRefs []ObjectReference `json:"virtualGatewayRefs,omitempty"`
}

// ExternalEndpoint is a static address of an external host.
type ExternalEndpoint struct {
	Header `json:",inline"`
	Spec   ExternalEndpointSpec `json:"spec"`
}

type ExternalEndpointSpec struct {
	Address  string         `json:"address"`
	Ports    []EndpointPort `json:"ports,omitempty"`
	Locality *Raw           `json:"locality,omitempty"`
}

type EndpointPort struct {
	Name   string `json:"name,omitempty"`
	Number uint32 `json:"number"`
}
