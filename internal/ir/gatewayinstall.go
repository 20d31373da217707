package ir

// GatewayInstall is what Kubernetes needs to run one egress gateway, carried from the
// GatewayLifecycleManager's istioOperatorSpec: the proxy image, the Service type, and where the pods may
// be scheduled (a dedicated node, as the seed advises). Tolerations and Affinity are Kubernetes' own JSON
// shapes (a list of tolerations, an affinity object), decoded by the renderer, which reports a bad field.
type GatewayInstall struct {
	// Owner is the GatewayLifecycleManager (namespace/name) the gateway comes from.
	Owner              string            `json:"owner" yaml:"owner"`
	Hub                string            `json:"hub,omitempty" yaml:"hub,omitempty"`
	Tag                string            `json:"tag,omitempty" yaml:"tag,omitempty"`
	ServiceType        string            `json:"serviceType,omitempty" yaml:"serviceType,omitempty"`
	NodeSelector       map[string]string `json:"nodeSelector,omitempty" yaml:"nodeSelector,omitempty"`
	Tolerations        any               `json:"tolerations,omitempty" yaml:"tolerations,omitempty"`
	Affinity           any               `json:"affinity,omitempty" yaml:"affinity,omitempty"`
	PodAnnotations     map[string]string `json:"podAnnotations,omitempty" yaml:"podAnnotations,omitempty"`
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty" yaml:"serviceAnnotations,omitempty"`
}
