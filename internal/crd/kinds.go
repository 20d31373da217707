package crd

// The rules of each kind, in the order of internal/api/validate*.go. Each one is a check egret makes on
// every object of the kind, alone; the message of a rule that has one is egret's own reason.

const notActed = "egret does not act on this field: it acts only on forwardTo to EXTERNAL_SERVICE destinations"

var externalServiceRules = concat([]rule{
	required("", "spec"),
	required("spec", "ports"),
	cel("spec", "(has(self.hosts) && size(self.hosts) > 0) || (has(self.addresses) && size(self.addresses) > 0)",
		"required: set hosts (names) or addresses (IPs or CIDRs)", ".hosts"),
	cel("spec", "!(has(self.hosts) && size(self.hosts) > 0 && has(self.addresses) && size(self.addresses) > 0)",
		"set hosts or addresses, not both", ".addresses"),
	items(nonEmpty("spec.hosts")),
	items(nonEmpty("spec.subjectAltNames")),
	required("spec.ports[]", "number", "protocol"),
	port("spec.ports[].number"),
	portOrUnset("spec.ports[].targetPort.number"),
	cel("spec.ports[]", "!has(self.egressGatewayRoutes) || (has(self.protocol) && self.protocol in ['HTTP', 'HTTP2', 'HTTPS'])",
		"egress gateway routes are supported only on HTTP, HTTP2 and HTTPS ports", ".egressGatewayRoutes"),
	forbid("spec.ports[].clientsideTls", "credentialName", "not supported: egret reads certificates from files (clientCertificate, privateKey, caCertificates)"),
	required("spec.ports[].egressGatewayRoutes", "virtualGatewayRefs"),
	portOrUnset("spec.ports[].egressGatewayRoutes.portMatch"),
	required("spec.ports[].egressGatewayRoutes.virtualGatewayRefs[]", "name"),
	optionalCluster("spec.ports[].egressGatewayRoutes.virtualGatewayRefs[].cluster"),
})

var externalEndpointRules = []rule{
	required("", "spec"),
	required("spec", "address"),
	required("spec.ports[]", "number"),
	port("spec.ports[].number"),
}

var virtualGatewayRules = concat([]rule{
	required("", "spec"),
	required("spec", "listeners"),
	only("spec.workloads[].kind", "KUBE"),
	required("spec.listeners[]", "port", "tls"),
	required("spec.listeners[].port", "number"),
	port("spec.listeners[].port.number"),
	cel("spec.listeners[]", "!(has(self.http) && has(self.tcp))", "set http or tcp, not both", ""),
	// tls is required and must be ISTIO_MUTUAL, so an http listener's appProtocol is HTTPS, any other TLS.
	cel("spec.listeners[]", "!has(self.appProtocol) || size(self.appProtocol) == 0 || self.appProtocol == (has(self.http) ? 'HTTPS' : 'TLS')",
		"does not fit this listener: with tls, use HTTPS on an http listener and TLS otherwise", ".appProtocol"),
	required("spec.listeners[].tls", "mode"),
	only("spec.listeners[].tls.mode", "ISTIO_MUTUAL"),
	forbid("spec.listeners[].tls", "secretName", "ISTIO_MUTUAL uses workload certificates: secretName and files must be unset"),
	forbid("spec.listeners[].tls", "files", "ISTIO_MUTUAL uses workload certificates: secretName and files must be unset"),
	required("spec.listeners[].exposedExternalServices[]", "host"),
},
	selector("spec.workloads[].selector"),
	selector("spec.listeners[].exposedExternalServices[].selector"),
)

var routeTableRules = concat([]rule{
	required("", "spec"),
	required("spec", "hosts", "http"),
	items(nonEmpty("spec.hosts")),
	required("spec.virtualGateways[]", "name"),
	optionalCluster("spec.virtualGateways[].cluster"),
	only("spec.workloadSelectors[].kind", "KUBE"),
	forbid("spec.workloadSelectors[]", "port", "not allowed on a route table's workload selector: only selector.labels may be set"),
	// Gloo's rule: only selector.labels may be set on a route table's workload selector.
	forbid("spec.workloadSelectors[].selector", "name", "only selector.labels may be set on a route table's workload selector (Gloo's rule)"),
	forbid("spec.workloadSelectors[].selector", "namespace", "only selector.labels may be set on a route table's workload selector (Gloo's rule)"),
	forbid("spec.workloadSelectors[].selector", "cluster", "only selector.labels may be set on a route table's workload selector (Gloo's rule)"),
	forbid("spec.workloadSelectors[].selector", "workspace", "only selector.labels may be set on a route table's workload selector (Gloo's rule)"),
	forbid("spec", "applyToDestinations", notActed),
	forbid("spec", "defaultDestination", notActed),
	forbid("spec", "tcp", notActed),
	forbid("spec", "tls", notActed),
	required("spec.http[]", "forwardTo"),
	forbid("spec.http[]", "delegate", notActed),
	forbid("spec.http[]", "redirect", notActed),
	forbid("spec.http[]", "directResponse", notActed),
	forbid("spec.http[]", "graphql", notActed),
	forbid("spec.http[].matchers[].uri", "suffix", "not supported (Gloo marks it unsupported too): use regex"),
	pattern("spec.http[].matchers[].uri.exact", `^(/.*)?$`),
	pattern("spec.http[].matchers[].uri.prefix", `^(/.*)?$`),
	required("spec.http[].matchers[].headers[]", "name"),
	cel("spec.http[].matchers[].headers[]", "!has(self.regex) || !self.regex || (has(self.value) && size(self.value) > 0)",
		"required with regex: true", ".value"),
	forbid("spec.http[].matchers[]", "queryParameters", "egret does not match query parameters yet: a matcher that ignored them would match more requests than written"),
	pattern("spec.http[].matchers[].method", `^[^ \t/]*$`),
	portOrUnset("spec.http[].matchers[].port"),
	forbid("spec.http[].forwardTo", "pathRewrite", notActed+", without rewrites"),
	forbid("spec.http[].forwardTo", "regexRewrite", notActed+", without rewrites"),
	forbid("spec.http[].forwardTo", "hostRewrite", notActed+", without rewrites"),
	required("spec.http[].forwardTo", "destinations"),
	maxItems("spec.http[].forwardTo.destinations", 100),
	required("spec.http[].forwardTo.destinations[]", "kind", "ref"),
	only("spec.http[].forwardTo.destinations[].kind", "EXTERNAL_SERVICE"),
	forbid("spec.http[].forwardTo.destinations[]", "awsLambda", notActed),
	forbid("spec.http[].forwardTo.destinations[]", "subset", notActed),
	required("spec.http[].forwardTo.destinations[].ref", "name"),
	optionalCluster("spec.http[].forwardTo.destinations[].ref.cluster"),
	portOrUnset("spec.http[].forwardTo.destinations[].port.number"),
	numberRange("spec.http[].forwardTo.destinations[].weight", 0, 100),
})

var accessPolicyRules = concat([]rule{
	forbid("spec", "applyToWorkloads", "not supported: egret enforces AccessPolicies at its egress gateways; select ExternalServices with applyToDestinations"),
	portOrUnset("spec.applyToDestinations[].port.number"),
},
	selector("spec.applyToDestinations[].selector"),
	authorization("spec.config.authz"),
	authorization("spec.config.authzList[]"),
)

func authorization(p string) []rule {
	return concat([]rule{
		forbid(p+".allowedClients[]", "externalWorkloadSelector", "not supported: egret identifies clients by service account"),
		forbid(p+".allowedClients[]", "requestIdentityMatcher", "not supported: egret identifies clients by their mTLS certificate, not by JWT"),
		items(pattern(p+".allowedMethods", methodToken)),
		items(pattern(p+".allowedPaths", allowedPath)),
		forbid(p, "allowedIpBlocks", "not supported yet: egret authorizes by identity, method, path and headers"),
		forbid(p, "allowedRemoteIpBlocks", "not supported yet: egret authorizes by identity, method, path and headers"),
	}, selector(p+".allowedClients[].serviceAccountSelector"))
}

var gatewayLifecycleManagerRules = []rule{
	required("", "spec"),
	required("spec", "installations"),
	required("spec.installations[]", "clusters"),
	required("spec.installations[].clusters[]", "name"),
	cluster("spec.installations[].clusters[].name"),
	trustDomain("spec.installations[].clusters[].trustDomain"),
	required("spec.installations[].istioOperatorSpec.components.egressGateways[]", "name"),
	name("spec.installations[].istioOperatorSpec.components.egressGateways[].name", dnsLabel, 63),
	optionalName("spec.installations[].istioOperatorSpec.components.egressGateways[].namespace", dnsLabel, 63),
	required("spec.installations[].istioOperatorSpec.components.egressGateways[].k8s.service.ports[]", "port"),
	port("spec.installations[].istioOperatorSpec.components.egressGateways[].k8s.service.ports[].port"),
	portOrUnset("spec.installations[].istioOperatorSpec.components.egressGateways[].k8s.service.ports[].targetPort"),
}

var istioLifecycleManagerRules = []rule{
	required("spec.installations[].clusters[]", "name"),
	cluster("spec.installations[].clusters[].name"),
	trustDomain("spec.installations[].clusters[].trustDomain"),
	trustDomain("spec.installations[].istioOperatorSpec.meshConfig.trustDomain"),
}

var meshRules = []rule{
	trustDomain("spec.trustDomain"),
}

var workloadRules = []rule{
	required("", "spec"),
	required("spec", "serviceAccount", "cluster"),
	name("spec.serviceAccount", dnsSubdomain, 253),
	cluster("spec.cluster"),
}

var workspaceRules = []rule{}

var workspaceSettingsRules = concat(
	shareRules("spec.importFrom[]"),
	shareRules("spec.exportTo[]"),
)

func shareRules(p string) []rule {
	return []rule{
		// "a name or a selector, not both" costs more CEL than the API server allows two lists deep.
		optionalName(p+".resources[].namespace", dnsLabel, 63),
		optionalCluster(p + ".resources[].cluster"),
	}
}
