package api

// GatewayLifecycleManager declares gateway installations per cluster.
type GatewayLifecycleManager struct {
	Header `json:",inline"`
	Spec   GatewayLifecycleManagerSpec `json:"spec"`
}

type GatewayLifecycleManagerSpec struct {
	Installations []GatewayInstallation `json:"installations"`
	HelmGlobal    *Raw                  `json:"helmGlobal,omitempty"`
}

type GatewayInstallation struct {
	ControlPlaneRevision  string             `json:"controlPlaneRevision,omitempty"`
	GatewayRevision       string             `json:"gatewayRevision,omitempty"`
	SkipUpgradeValidation bool               `json:"skipUpgradeValidation,omitempty"`
	Clusters              []GatewayCluster   `json:"clusters"`
	IstioOperatorSpec     *IstioOperatorSpec `json:"istioOperatorSpec,omitempty"`
}

type GatewayCluster struct {
	Name          string `json:"name"`
	ActiveGateway bool   `json:"activeGateway,omitempty"`
	TrustDomain   string `json:"trustDomain,omitempty"`
}

// IstioOperatorSpec is the part of Istio's operator spec that egret reads; the rest is accepted and ignored.
type IstioOperatorSpec struct {
	Profile            string      `json:"profile,omitempty"`
	InstallPackagePath string      `json:"installPackagePath,omitempty"`
	Hub                string      `json:"hub,omitempty"`
	Tag                string      `json:"tag,omitempty"`
	Namespace          string      `json:"namespace,omitempty"`
	Revision           string      `json:"revision,omitempty"`
	DefaultRevision    bool        `json:"defaultRevision,omitempty"`
	MeshConfig         *MeshConfig `json:"meshConfig,omitempty"`
	Components         *Components `json:"components,omitempty"`
	Values             *Raw        `json:"values,omitempty"`
	UnvalidatedValues  *Raw        `json:"unvalidatedValues,omitempty"`
}

// MeshConfig is Istio's mesh configuration; egret reads the fields named here and accepts any other
// field of Istio's MeshConfig without reading it.
type MeshConfig struct {
	OutboundTrafficPolicy *OutboundTrafficPolicy `json:"outboundTrafficPolicy,omitempty"`
	AccessLogFile         string                 `json:"accessLogFile,omitempty"`
	AccessLogEncoding     AccessLogEncoding      `json:"accessLogEncoding,omitempty"`
	AccessLogFormat       string                 `json:"accessLogFormat,omitempty"`
	TrustDomain           string                 `json:"trustDomain,omitempty"`
	Other                 map[string]Raw         `json:",inline"`
}

type OutboundTrafficPolicy struct {
	Mode OutboundMode `json:"mode,omitempty"`
}

type Components struct {
	Base            *Raw          `json:"base,omitempty"`
	Pilot           *Raw          `json:"pilot,omitempty"`
	CNI             *Raw          `json:"cni,omitempty"`
	Ztunnel         *Raw          `json:"ztunnel,omitempty"`
	IngressGateways []Raw         `json:"ingressGateways,omitempty"`
	EgressGateways  []GatewaySpec `json:"egressGateways,omitempty"`
}

type GatewaySpec struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Enabled   *bool             `json:"enabled,omitempty"`
	Label     map[string]string `json:"label,omitempty"`
	Hub       string            `json:"hub,omitempty"`
	Tag       string            `json:"tag,omitempty"`
	K8s       *GatewayK8s       `json:"k8s,omitempty"`
}

type GatewayK8s struct {
	Service            *ServiceSpec      `json:"service,omitempty"`
	NodeSelector       map[string]string `json:"nodeSelector,omitempty"`
	Tolerations        *Raw              `json:"tolerations,omitempty"`
	Affinity           *Raw              `json:"affinity,omitempty"`
	Env                *Raw              `json:"env,omitempty"`
	HpaSpec            *Raw              `json:"hpaSpec,omitempty"`
	PodAnnotations     map[string]string `json:"podAnnotations,omitempty"`
	Resources          *Raw              `json:"resources,omitempty"`
	Strategy           *Raw              `json:"strategy,omitempty"`
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`
	Volumes            *Raw              `json:"volumes,omitempty"`
	Overlays           *Raw              `json:"overlays,omitempty"`
}

type ServiceSpec struct {
	Type     string            `json:"type,omitempty"`
	Selector map[string]string `json:"selector,omitempty"`
	Ports    []ServicePortSpec `json:"ports,omitempty"`
}

type ServicePortSpec struct {
	Name       string `json:"name,omitempty"`
	Port       uint32 `json:"port"`
	TargetPort uint32 `json:"targetPort,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
	NodePort   uint32 `json:"nodePort,omitempty"`
}

// IstioLifecycleManager installs Istio; egret reads only its mesh configuration and cluster trust domains.
type IstioLifecycleManager struct {
	Header `json:",inline"`
	Spec   IstioLifecycleManagerSpec `json:"spec"`
}

type IstioLifecycleManagerSpec struct {
	Installations []IstioInstallation `json:"installations"`
	HelmGlobal    *Raw                `json:"helmGlobal,omitempty"`
}

type IstioInstallation struct {
	Revision              string             `json:"revision,omitempty"`
	Clusters              []IstioCluster     `json:"clusters,omitempty"`
	IstioOperatorSpec     *IstioOperatorSpec `json:"istioOperatorSpec,omitempty"`
	IstioController       *Raw               `json:"istioController,omitempty"`
	SkipUpgradeValidation bool               `json:"skipUpgradeValidation,omitempty"`
}

type IstioCluster struct {
	Name            string `json:"name"`
	DefaultRevision bool   `json:"defaultRevision,omitempty"`
	TrustDomain     string `json:"trustDomain,omitempty"`
}
