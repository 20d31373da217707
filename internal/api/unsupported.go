package api

import (
	"strings"
)

// Unsupported is a Gloo resource of a kind egret knows but does not implement. It is decoded (so it has
// a position and a name), reported as an error on itself, and otherwise ignored: the rest of the set
// still validates, translates and runs.
type Unsupported struct {
	Header `json:",inline"`
	Spec   Raw  `json:"spec"`
	Status *Raw `json:"status,omitempty"`
}

// unsupportedKinds are Gloo Mesh 2.x kinds egret does not implement, by kind, with their usual API group
// (documentation: any Gloo group is accepted).
// Kinds egret implements are in the decoder's kinds table, which is looked up first.
var unsupportedKinds = map[string]string{
	// networking
	"VirtualDestination": "networking.gloo.solo.io",
	"ExternalWorkload":   "networking.gloo.solo.io",
	"VirtualHost":        "networking.gloo.solo.io",
	// admin
	"RootTrustPolicy":          "admin.gloo.solo.io",
	"KubernetesCluster":        "admin.gloo.solo.io",
	"ExtAuthServer":            "admin.gloo.solo.io",
	"RateLimitServerSettings":  "admin.gloo.solo.io",
	"WaypointLifecycleManager": "admin.gloo.solo.io",
	// security policies
	"JWTPolicy":                 "security.policy.gloo.solo.io",
	"ExtAuthPolicy":             "security.policy.gloo.solo.io",
	"CORSPolicy":                "security.policy.gloo.solo.io",
	"CSRFPolicy":                "security.policy.gloo.solo.io",
	"WAFPolicy":                 "security.policy.gloo.solo.io",
	"DLPPolicy":                 "security.policy.gloo.solo.io",
	"ClientTLSPolicy":           "security.policy.gloo.solo.io",
	"GraphQLAllowedQueryPolicy": "security.policy.gloo.solo.io",
	// resilience policies
	"RetryTimeoutPolicy":               "resilience.policy.gloo.solo.io",
	"FaultInjectionPolicy":             "resilience.policy.gloo.solo.io",
	"OutlierDetectionPolicy":           "resilience.policy.gloo.solo.io",
	"FailoverPolicy":                   "resilience.policy.gloo.solo.io",
	"ConnectionPolicy":                 "resilience.policy.gloo.solo.io",
	"ListenerConnectionPolicy":         "resilience.policy.gloo.solo.io",
	"ActiveHealthCheckPolicy":          "resilience.policy.gloo.solo.io",
	"AdaptiveRequestConcurrencyPolicy": "resilience.policy.gloo.solo.io",
	"TrimProxyConfigPolicy":            "resilience.policy.gloo.solo.io",
	// traffic control policies
	"HeaderManipulationPolicy": "trafficcontrol.policy.gloo.solo.io",
	"MirrorPolicy":             "trafficcontrol.policy.gloo.solo.io",
	"TransformationPolicy":     "trafficcontrol.policy.gloo.solo.io",
	"ProxyProtocolPolicy":      "trafficcontrol.policy.gloo.solo.io",
	"LoadBalancerPolicy":       "trafficcontrol.policy.gloo.solo.io",
	"RateLimitPolicy":          "trafficcontrol.policy.gloo.solo.io",
	"RateLimitClientConfig":    "trafficcontrol.policy.gloo.solo.io",
	"HTTPBufferPolicy":         "trafficcontrol.policy.gloo.solo.io",
	// observability and extensions
	"AccessLogPolicy":      "observability.policy.gloo.solo.io",
	"WasmDeploymentPolicy": "extensions.policy.gloo.solo.io",
}

// restrictingKinds are unsupported kinds that, had egret applied them, would refuse some requests:
// ignoring one lets through what its author meant to stop, which the error on it says.
var restrictingKinds = map[string]bool{
	"JWTPolicy": true, "ExtAuthPolicy": true, "WAFPolicy": true, "CSRFPolicy": true, "CORSPolicy": true,
	"RateLimitPolicy": true, "DLPPolicy": true, "GraphQLAllowedQueryPolicy": true,
}

// unsupportedKind reports whether kind under apiVersion is a known Gloo kind egret does not implement.
// Any version of any Gloo group is accepted (kinds have moved between groups across releases): the
// object is ignored, so its schema does not matter; the kind name under another group stays unknown.
func unsupportedKind(kind, apiVersion string) bool {
	if _, ok := unsupportedKinds[kind]; !ok {
		return false
	}
	g, _, _ := strings.Cut(apiVersion, "/")
	return g == "gloo.solo.io" || strings.HasSuffix(g, ".gloo.solo.io")
}

func (v *validator) unsupported(o *Unsupported) {
	msg := "egret does not implement " + o.Kind + "; it is ignored, and the rest of the set still applies"
	if restrictingKinds[o.Kind] {
		msg += ". It would restrict requests: ignored, it refuses nothing, so callers it was meant to stop get through unless an AccessPolicy stops them"
	}
	v.errorf("kind", "%s", msg)
}

// Blocking returns the errors that must stop a configuration from being used: every error except those
// on objects of unsupported kinds, which are reported but ignored while the rest applies.
func (ps Problems) Blocking() Problems {
	var out Problems
	for _, p := range ps.Errors() {
		kind, _, _ := strings.Cut(p.Object, " ")
		if _, unsupported := unsupportedKinds[kind]; unsupported && !isImplemented(kind) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// isImplemented reports whether the decoder reads kind itself (another part of egret may implement a
// kind listed as unsupported here; the decoder's table wins).
func isImplemented(kind string) bool {
	_, ok := kinds[kind]
	return ok
}
