package api

// RouteTable decides which destination a matched HTTP request goes to. egret acts on routes that forward
// to ExternalServices; every other action and destination kind is decoded (so problems have positions)
// and reported as unsupported on the field that uses it.
type RouteTable struct {
	Header `json:",inline"`
	Spec   RouteTableSpec `json:"spec"`
}

type RouteTableSpec struct {
	Hosts []string `json:"hosts,omitempty"`
	// VirtualGateways makes the routes gateway routes, applied at the gateways these VirtualGateways select.
	VirtualGateways []ObjectReference `json:"virtualGateways,omitempty"`
	// WorkloadSelectors makes the routes mesh routes, applied at the sidecars of the selected workloads.
	WorkloadSelectors         []WorkloadSelector `json:"workloadSelectors,omitempty"`
	ApplyToDestinations       []Raw              `json:"applyToDestinations,omitempty"`
	DefaultDestination        *Raw               `json:"defaultDestination,omitempty"`
	HTTP                      []HTTPRoute        `json:"http,omitempty"`
	TCP                       []Raw              `json:"tcp,omitempty"`
	TLS                       []Raw              `json:"tls,omitempty"`
	Weight                    int32              `json:"weight,omitempty"`
	PortalMetadata            *Raw               `json:"portalMetadata,omitempty"`
	FailureMode               *Raw               `json:"failureMode,omitempty"`
	VirtualServiceAnnotations map[string]string  `json:"virtualServiceAnnotations,omitempty"`
}

// HTTPRoute is one route: the requests its matchers select and the action taken on them.
type HTTPRoute struct {
	Name     string               `json:"name,omitempty"`
	Labels   map[string]string    `json:"labels,omitempty"`
	Matchers []HTTPRequestMatcher `json:"matchers,omitempty"`
	// Exactly one action; egret acts on forwardTo only.
	ForwardTo      *ForwardTo `json:"forwardTo,omitempty"`
	Delegate       *Raw       `json:"delegate,omitempty"`
	Redirect       *Raw       `json:"redirect,omitempty"`
	DirectResponse *Raw       `json:"directResponse,omitempty"`
	Graphql        *Raw       `json:"graphql,omitempty"`
}

// HTTPRequestMatcher selects requests; all of its conditions must hold.
type HTTPRequestMatcher struct {
	Name            string          `json:"name,omitempty"`
	URI             *StringMatch    `json:"uri,omitempty"`
	Headers         []HeaderMatcher `json:"headers,omitempty"`
	QueryParameters []Raw           `json:"queryParameters,omitempty"`
	Method          string          `json:"method,omitempty"`
	Port            uint32          `json:"port,omitempty"`
}

// StringMatch is one of exact, prefix or regex (RE2); suffix is in Gloo's schema but marked unsupported.
type StringMatch struct {
	Exact      string `json:"exact,omitempty"`
	Prefix     string `json:"prefix,omitempty"`
	Regex      string `json:"regex,omitempty"`
	Suffix     string `json:"suffix,omitempty"`
	IgnoreCase bool   `json:"ignoreCase,omitempty"`
}

// HeaderMatcher matches one request header: present (no value), equal to value, or matching it as a regex.
type HeaderMatcher struct {
	Name        string `json:"name"`
	Value       string `json:"value,omitempty"`
	Regex       bool   `json:"regex,omitempty"`
	InvertMatch bool   `json:"invertMatch,omitempty"`
}

type ForwardTo struct {
	Destinations    []RouteDestination `json:"destinations,omitempty"`
	PathRewrite     string             `json:"pathRewrite,omitempty"`
	RegexRewrite    *Raw               `json:"regexRewrite,omitempty"`
	HostRewrite     string             `json:"hostRewrite,omitempty"`
	AutoHostRewrite *bool              `json:"autoHostRewrite,omitempty"`
}

// RouteDestination is Gloo's DestinationReference. Kind defaults to SERVICE in Gloo, which egret does not
// route to, so an omitted kind is an error that says to write EXTERNAL_SERVICE.
type RouteDestination struct {
	Ref       *ObjectReference  `json:"ref,omitempty"`
	AWSLambda *Raw              `json:"awsLambda,omitempty"`
	Kind      DestinationKind   `json:"kind,omitempty"`
	Port      *PortSelector     `json:"port,omitempty"`
	Subset    map[string]string `json:"subset,omitempty"`
	Weight    uint32            `json:"weight,omitempty"`
}
