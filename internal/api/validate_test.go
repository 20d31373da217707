package api

import (
	"strings"
	"testing"
)

// validate decodes y, applies defaults and returns every decoding and validation problem.
func validate(t *testing.T, y string) []string {
	t.Helper()
	objs, problems := Decode("v.yaml", []byte(y))
	if len(problems) > 0 {
		t.Fatalf("decode: %v", Problems(problems))
	}
	s := &Snapshot{}
	for _, o := range objs {
		SetDefaults(o)
		s.Add(o)
	}
	var out []string
	for _, p := range Validate(s) {
		out = append(out, p.Error())
	}
	return out
}

const vg = `apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata: {name: egw, namespace: web}
spec:
  listeners:
  - port: {number: 443}
    tls: {mode: ISTIO_MUTUAL}
    http: {}
---
`

func es(ports string) string {
	return "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata: {name: ext, namespace: web}\nspec:\n  hosts: [api.example.com]\n  ports:\n" + ports
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "a port out of range",
			yaml: es("  - {number: 0, protocol: HTTPS}\n"),
			want: []string{"v.yaml:7: ExternalService web/ext: spec.ports[0].number: must be 1-65535, got 0"},
		},
		{
			name: "hosts and addresses together",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata: {name: ext, namespace: web}\nspec:\n  hosts: [a.com]\n  addresses: [1.2.3.4]\n  ports: [{number: 443, protocol: TLS}]\n",
			want: []string{"v.yaml:6: ExternalService web/ext: spec.addresses: set hosts or addresses, not both"},
		},
		{
			name: "neither hosts nor addresses",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata: {name: ext, namespace: web}\nspec:\n  ports: [{number: 443, protocol: TLS}]\n",
			want: []string{"v.yaml:4: ExternalService web/ext: spec.hosts: required: set hosts (names) or addresses (IPs or CIDRs)"},
		},
		{
			name: "a wildcard that is not the whole first label",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata: {name: ext, namespace: web}\nspec:\n  hosts: [\"api.*.com\", \"*\", \"*.ok.com\"]\n  ports: [{number: 443, protocol: TLS}]\n",
			want: []string{
				`v.yaml:5: ExternalService web/ext: spec.hosts[0]: "api.*.com": a wildcard is allowed only as the whole first label, e.g. "*.example.com"`,
				`v.yaml:5: ExternalService web/ext: spec.hosts[1]: "*" alone would match every host; name a domain, e.g. "*.example.com"`,
			},
		},
		{
			name: "egress routes on a TCP port",
			yaml: vg + es("  - number: 443\n    protocol: TLS\n    egressGatewayRoutes:\n      virtualGatewayRefs: [{name: egw}]\n"),
			want: []string{"v.yaml:18: ExternalService web/ext: spec.ports[0].egressGatewayRoutes: egress gateway routes are supported only on HTTP, HTTP2 and HTTPS ports, not TLS"},
		},
		{
			name: "egress routes with addresses instead of hosts",
			yaml: vg + "apiVersion: networking.gloo.solo.io/v2\nkind: ExternalService\nmetadata: {name: ext, namespace: web}\nspec:\n  addresses: [192.0.2.1]\n  ports:\n  - number: 443\n    protocol: HTTPS\n    egressGatewayRoutes:\n      virtualGatewayRefs: [{name: egw}]\n",
			want: []string{"v.yaml:18: ExternalService web/ext: spec.ports[0].egressGatewayRoutes: egress gateway routes need spec.hosts (not addresses)"},
		},
		{
			name: "the same portMatch twice",
			yaml: vg + es("  - {number: 443, name: a, protocol: HTTPS, egressGatewayRoutes: {virtualGatewayRefs: [{name: egw}]}}\n  - {number: 8443, name: b, protocol: HTTPS, egressGatewayRoutes: {virtualGatewayRefs: [{name: egw}]}}\n"),
			want: []string{"v.yaml:17: ExternalService web/ext: spec.ports[1].egressGatewayRoutes.portMatch: 80 is already the portMatch of spec.ports[0]"},
		},
		{
			name: "a portMatch equal to a port that bypasses the gateway",
			yaml: vg + es("  - {number: 443, name: a, protocol: HTTPS, egressGatewayRoutes: {portMatch: 8080, virtualGatewayRefs: [{name: egw}]}}\n  - {number: 8080, name: b, protocol: HTTP}\n"),
			want: []string{"v.yaml:16: ExternalService web/ext: spec.ports[0].egressGatewayRoutes.portMatch: 8080 is also the number of spec.ports[1], which has no egress gateway route: requests to it would bypass the gateway"},
		},
		{
			name: "MUTUAL origination without a certificate",
			yaml: es("  - number: 443\n    protocol: HTTPS\n    clientsideTls:\n      mode: MUTUAL\n"),
			want: []string{"v.yaml:9: ExternalService web/ext: spec.ports[0].clientsideTls: mode MUTUAL needs clientCertificate and privateKey (file paths on the gateway)"},
		},
		{
			name: "skipping verification is allowed but warned",
			yaml: es("  - number: 443\n    protocol: HTTPS\n    clientsideTls:\n      insecureSkipVerify: true\n"),
			want: []string{"v.yaml:10: warning: ExternalService web/ext: spec.ports[0].clientsideTls.insecureSkipVerify: the external host's certificate is NOT verified"},
		},
		{
			name: "a name that is not DNS-1123",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: My_App, namespace: web}\nspec: {serviceAccount: a, cluster: c1}\n",
			want: []string{`v.yaml:3: Workload web/My_App: metadata.name: "My_App" is not a DNS-1123 name (lower-case letters, digits, '-' and '.', at most 253)`},
		},
		{
			name: "a cluster name with an underscore says why",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: app, namespace: web}\nspec: {serviceAccount: a, cluster: my_cluster}\n",
			want: []string{`v.yaml:4: Workload web/app: spec.cluster: cluster name "my_cluster" contains '_': cluster names become SANs and trust domains in certificates, and an underscore is not valid there; rename it, e.g. "my-cluster"`},
		},
		{
			name: "a GatewayLifecycleManager cluster with an underscore",
			yaml: "apiVersion: admin.gloo.solo.io/v2\nkind: GatewayLifecycleManager\nmetadata: {name: g, namespace: gloo-mesh}\nspec:\n  installations:\n  - clusters:\n    - name: prod_east\n    istioOperatorSpec: {components: {egressGateways: [{name: egw}]}}\n",
			want: []string{`v.yaml:7: GatewayLifecycleManager gloo-mesh/g: spec.installations[0].clusters[0].name: cluster name "prod_east" contains '_': cluster names become SANs and trust domains in certificates, and an underscore is not valid there; rename it, e.g. "prod-east"`},
		},
		{
			name: "the same gateway installed twice in one cluster",
			yaml: "apiVersion: admin.gloo.solo.io/v2\nkind: GatewayLifecycleManager\nmetadata: {name: g, namespace: gloo-mesh}\nspec:\n  installations:\n  - clusters: [{name: c1}]\n    istioOperatorSpec: {components: {egressGateways: [{name: egw}, {name: egw}]}}\n",
			want: []string{`v.yaml:7: GatewayLifecycleManager gloo-mesh/g: spec.installations[0].istioOperatorSpec.components.egressGateways[1]: gateway egw (revision "") is already installed in cluster c1 by spec.installations[0]: one installation of each gateway per revision per cluster`},
		},
		{
			name: "duplicate objects",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: app, namespace: web}\nspec: {serviceAccount: a, cluster: c1}\n---\napiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: app, namespace: web}\nspec: {serviceAccount: b, cluster: c1}\n",
			want: []string{"v.yaml:8: Workload web/app: metadata.name: duplicate: Workload web/app is already defined at v.yaml:1"},
		},
		{
			name: "a Mesh and an IstioLifecycleManager that disagree",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Mesh\nmetadata: {name: mesh}\nspec:\n  outboundTrafficPolicy: {mode: ALLOW_ANY}\n---\napiVersion: admin.gloo.solo.io/v2\nkind: IstioLifecycleManager\nmetadata: {name: i, namespace: gloo-mesh}\nspec:\n  installations:\n  - istioOperatorSpec:\n      meshConfig:\n        outboundTrafficPolicy:\n          mode: REGISTRY_ONLY\n",
			want: []string{"v.yaml:15: IstioLifecycleManager gloo-mesh/i: spec.installations[0].istioOperatorSpec.meshConfig.outboundTrafficPolicy.mode: outboundTrafficPolicy REGISTRY_ONLY conflicts with ALLOW_ANY set by Mesh mesh at v.yaml:5; the mesh has one outboundTrafficPolicy"},
		},
		{
			name: "a virtualGatewayRef that names no VirtualGateway",
			yaml: es("  - {number: 443, protocol: HTTPS, egressGatewayRoutes: {virtualGatewayRefs: [{name: nope, cluster: c1}]}}\n"),
			want: []string{"v.yaml:7: ExternalService web/ext: spec.ports[0].egressGatewayRoutes.virtualGatewayRefs[0]: VirtualGateway web/nope does not exist"},
		},
		{
			name: "a listener without ISTIO_MUTUAL",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: VirtualGateway\nmetadata: {name: egw, namespace: web}\nspec:\n  listeners:\n  - port: {number: 80}\n    http: {}\n",
			want: []string{"v.yaml:6: VirtualGateway web/egw: spec.listeners[0].tls.mode: egret's egress gateway listeners need tls.mode ISTIO_MUTUAL, so that every caller is identified by its mesh certificate; got no tls"},
		},
		{
			name: "an appProtocol that does not fit the listener",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: VirtualGateway\nmetadata: {name: egw, namespace: web}\nspec:\n  listeners:\n  - port: {number: 443}\n    tls: {mode: ISTIO_MUTUAL}\n    http: {}\n    appProtocol: TCP\n",
			want: []string{"v.yaml:9: VirtualGateway web/egw: spec.listeners[0].appProtocol: TCP does not fit this listener (http: true, tls: true); use HTTPS"},
		},
		{
			name: "an exposed host with a bad wildcard",
			yaml: "apiVersion: networking.gloo.solo.io/v2\nkind: VirtualGateway\nmetadata: {name: egw, namespace: web}\nspec:\n  listeners:\n  - port: {number: 443}\n    tls: {mode: ISTIO_MUTUAL}\n    http: {}\n    exposedExternalServices:\n    - host: web/api.*\n",
			want: []string{`v.yaml:10: VirtualGateway web/egw: spec.listeners[0].exposedExternalServices[0].host: "api.*": a wildcard is allowed only as the whole first label, e.g. "*.example.com"`},
		},
		{
			name: "JWT clients are not supported",
			yaml: "apiVersion: security.policy.gloo.solo.io/v2\nkind: AccessPolicy\nmetadata: {name: p, namespace: web}\nspec:\n  config:\n    authz:\n      allowedClients:\n      - requestIdentityMatcher: {requestPrincipals: [a]}\n",
			want: []string{"v.yaml:8: AccessPolicy web/p: spec.config.authz.allowedClients[0].requestIdentityMatcher: not supported: egret identifies clients by their mTLS certificate, not by JWT"},
		},
		{
			name: "a path with a wildcard in the middle",
			yaml: "apiVersion: security.policy.gloo.solo.io/v2\nkind: AccessPolicy\nmetadata: {name: p, namespace: web}\nspec:\n  config:\n    authz:\n      allowedPaths: [\"/a*b\", \"/ok*\", \"*/ok\", \"nope\"]\n",
			want: []string{
				`v.yaml:7: AccessPolicy web/p: spec.config.authz.allowedPaths[0]: "/a*b": * is allowed only at the start or the end`,
				`v.yaml:7: AccessPolicy web/p: spec.config.authz.allowedPaths[3]: "nope" must start with / (exact or prefix with a trailing *) or * (suffix)`,
			},
		},
		{
			name: "a policy with no authz denies everything, and says so",
			yaml: "apiVersion: security.policy.gloo.solo.io/v2\nkind: AccessPolicy\nmetadata: {name: p, namespace: web}\nspec:\n  config:\n    authn: {tlsMode: STRICT}\n",
			want: []string{"v.yaml:5: warning: AccessPolicy web/p: spec.config: no authz or authzList: this policy allows no client, so every request to the services it selects is denied"},
		},
		{
			name: "a workload needs a service account and a cluster",
			yaml: "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: app, namespace: web}\nspec:\n  sidecar: {listen: 'localhost:99'}\n",
			want: []string{
				"v.yaml:4: Workload web/app: spec.serviceAccount: required: the service account names the workload's identity",
				"v.yaml:4: Workload web/app: spec.cluster: required",
				`v.yaml:5: Workload web/app: spec.sidecar.listen: "localhost:99" must be ip:port, e.g. 127.0.0.1:15001`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := validate(t, tc.yaml)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDefaultsFollowTheSeedAPI(t *testing.T) {
	objs, problems := Decode("d.yaml", []byte(vg+es("  - {number: 443, protocol: HTTPS, clientsideTls: {}, egressGatewayRoutes: {virtualGatewayRefs: [{name: egw}]}}\n")))
	if len(problems) > 0 {
		t.Fatal(Problems(problems))
	}
	for _, o := range objs {
		SetDefaults(o)
	}
	p := objs[1].(*ExternalService).Spec.Ports[0]
	if p.EgressGatewayRoutes.PortMatch != 80 {
		t.Errorf("portMatch %d, want 80", p.EgressGatewayRoutes.PortMatch)
	}
	if p.ClientsideTLS.Mode != ClientTLSSimple || p.ClientsideTLS.SNI != "api.example.com" {
		t.Errorf("clientsideTls %+v, want SIMPLE with sni api.example.com", p.ClientsideTLS)
	}
	if p.TargetPort.Number != 443 {
		t.Errorf("targetPort %d, want 443", p.TargetPort.Number)
	}
	if ref := p.EgressGatewayRoutes.VirtualGatewayRefs[0]; ref.Namespace != "web" {
		t.Errorf("ref namespace %q, want the ExternalService's (web)", ref.Namespace)
	}
	if l := objs[0].(*VirtualGateway).Spec.Listeners[0]; l.AppProtocol != "HTTPS" {
		t.Errorf("appProtocol %q, want HTTPS inferred from http + tls", l.AppProtocol)
	}
}
