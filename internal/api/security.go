package api

// AccessPolicy says which clients may reach a destination.
type AccessPolicy struct {
	Header `json:",inline"`
	Spec   AccessPolicySpec `json:"spec"`
}

type AccessPolicySpec struct {
	ApplyToDestinations []DestinationSelector `json:"applyToDestinations,omitempty"`
	ApplyToWorkloads    []Raw                 `json:"applyToWorkloads,omitempty"`
	Config              AccessPolicyConfig    `json:"config"`
}

type DestinationSelector struct {
	Kind     DestinationKind `json:"kind,omitempty"`
	Selector *ObjectSelector `json:"selector,omitempty"`
	Port     *PortSelector   `json:"port,omitempty"`
}

type AccessPolicyConfig struct {
	Authn             *Authn             `json:"authn,omitempty"`
	Authz             *Authorization     `json:"authz,omitempty"`
	AuthzList         []Authorization    `json:"authzList,omitempty"`
	EnforcementLayers *EnforcementLayers `json:"enforcementLayers,omitempty"`
}

type Authn struct {
	TLSMode PeerTLSMode `json:"tlsMode,omitempty"`
}

type EnforcementLayers struct {
	Mesh bool `json:"mesh,omitempty"`
	CNI  bool `json:"cni,omitempty"`
}

// Authorization is one allow rule: all of its fields must match.
type Authorization struct {
	AllowedClients        []IdentitySelector `json:"allowedClients,omitempty"`
	AllowedPaths          []string           `json:"allowedPaths,omitempty"`
	AllowedMethods        []string           `json:"allowedMethods,omitempty"`
	Match                 *AuthzMatch        `json:"match,omitempty"`
	AllowedIPBlocks       []string           `json:"allowedIpBlocks,omitempty"`
	AllowedRemoteIPBlocks []string           `json:"allowedRemoteIpBlocks,omitempty"`
	DryRun                bool               `json:"dryRun,omitempty"`
}

type IdentitySelector struct {
	ServiceAccountSelector   *ObjectSelector `json:"serviceAccountSelector,omitempty"`
	ExternalWorkloadSelector *Raw            `json:"externalWorkloadSelector,omitempty"`
	RequestIdentityMatcher   *Raw            `json:"requestIdentityMatcher,omitempty"`
}

type AuthzMatch struct {
	Request *RequestMatch `json:"request,omitempty"`
}

type RequestMatch struct {
	Headers map[string]HeaderValues `json:"headers,omitempty"`
}

type HeaderValues struct {
	Values    []string `json:"values,omitempty"`
	NotValues []string `json:"notValues,omitempty"`
}
