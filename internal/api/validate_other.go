package api

import (
	"fmt"
	"net/netip"
	"strings"
)

func (v *validator) accessPolicy(o *AccessPolicy) {
	s := o.Spec
	if len(s.ApplyToWorkloads) > 0 {
		v.errorf("spec.applyToWorkloads", "not supported: egret enforces AccessPolicies at its egress gateways; select ExternalServices with applyToDestinations")
	}
	for i, d := range s.ApplyToDestinations {
		p := fmt.Sprintf("spec.applyToDestinations[%d]", i)
		v.selector(p+".selector", d.Selector)
		if d.Port != nil && d.Port.Number != 0 {
			v.port(p+".port.number", d.Port.Number)
		}
	}
	c := s.Config
	if c.Authn != nil && c.Authn.TLSMode != "" && c.Authn.TLSMode != "STRICT" {
		v.warnf("spec.config.authn.tlsMode", "egret's gateways always require mutual TLS; %s is treated as STRICT", c.Authn.TLSMode)
	}
	if c.EnforcementLayers != nil && c.EnforcementLayers.CNI {
		v.warnf("spec.config.enforcementLayers.cni", "egret has no CNI layer; the policy is enforced at the egress gateway")
	}
	if c.Authz != nil && len(c.AuthzList) > 0 {
		v.warnf("spec.config.authz", "ignored because authzList is set")
	}
	if c.Authz == nil && len(c.AuthzList) == 0 {
		v.warnf("spec.config", "no authz or authzList: this policy allows no client, so every request to the services it selects is denied")
	}
	if c.Authz != nil {
		v.authorization("spec.config.authz", c.Authz)
	}
	for i := range c.AuthzList {
		v.authorization(fmt.Sprintf("spec.config.authzList[%d]", i), &c.AuthzList[i])
	}
}

func (v *validator) authorization(p string, a *Authorization) {
	for i, c := range a.AllowedClients {
		cp := fmt.Sprintf("%s.allowedClients[%d]", p, i)
		if c.ExternalWorkloadSelector != nil {
			v.errorf(cp+".externalWorkloadSelector", "not supported: egret identifies clients by service account")
		}
		if c.RequestIdentityMatcher != nil {
			v.errorf(cp+".requestIdentityMatcher", "not supported: egret identifies clients by their mTLS certificate, not by JWT")
		}
		v.selector(cp+".serviceAccountSelector", c.ServiceAccountSelector)
	}
	for i, m := range a.AllowedMethods {
		if !methodToken.MatchString(m) {
			v.errorf(fmt.Sprintf("%s.allowedMethods[%d]", p, i), "%q is not an HTTP method", m)
		}
	}
	for i, path := range a.AllowedPaths {
		if path == "" || !(strings.HasPrefix(path, "/") || strings.HasPrefix(path, "*")) {
			v.errorf(fmt.Sprintf("%s.allowedPaths[%d]", p, i), "%q must start with / (exact or prefix with a trailing *) or * (suffix)", path)
		} else if inner := strings.TrimSuffix(strings.TrimPrefix(path, "*"), "*"); path != "*" && strings.Contains(inner, "*") || strings.HasPrefix(path, "*") && strings.HasSuffix(path, "*") && path != "*" {
			v.errorf(fmt.Sprintf("%s.allowedPaths[%d]", p, i), "%q: * is allowed only at the start or the end", path)
		}
	}
	if a.Match != nil && a.Match.Request != nil {
		for name := range a.Match.Request.Headers {
			if !methodToken.MatchString(name) {
				v.errorf(p+".match.request.headers."+name, "%q is not a valid header name", name)
			}
		}
	}
	if len(a.AllowedIPBlocks) > 0 {
		v.errorf(p+".allowedIpBlocks", "not supported yet: egret authorizes by identity, method, path and headers")
	}
	if len(a.AllowedRemoteIPBlocks) > 0 {
		v.errorf(p+".allowedRemoteIpBlocks", "not supported yet: egret authorizes by identity, method, path and headers")
	}
}

func (v *validator) gatewayLifecycleManager(o *GatewayLifecycleManager) {
	if len(o.Spec.Installations) == 0 {
		v.errorf("spec.installations", "required: at least one installation")
	}
	type key struct{ cluster, revision, gateway string }
	seen := map[key]string{}
	for i, inst := range o.Spec.Installations {
		p := fmt.Sprintf("spec.installations[%d]", i)
		if len(inst.Clusters) == 0 {
			v.errorf(p+".clusters", "required: list the clusters to install the gateway into")
		}
		for j, c := range inst.Clusters {
			v.cluster(fmt.Sprintf("%s.clusters[%d].name", p, j), c.Name)
			if c.TrustDomain != "" {
				v.trustDomain(fmt.Sprintf("%s.clusters[%d].trustDomain", p, j), c.TrustDomain)
			}
		}
		spec := inst.IstioOperatorSpec
		if spec == nil || spec.Components == nil || len(spec.Components.EgressGateways) == 0 {
			v.warnf(p+".istioOperatorSpec.components.egressGateways", "no egress gateway is declared, so this installation runs nothing")
			continue
		}
		for j, g := range spec.Components.EgressGateways {
			gp := fmt.Sprintf("%s.istioOperatorSpec.components.egressGateways[%d]", p, j)
			if g.Name == "" {
				v.errorf(gp+".name", "required")
			} else if msg := checkDNSLabel(g.Name); msg != "" {
				v.errorf(gp+".name", "%s", msg)
			}
			if msg := checkDNSLabel(g.Namespace); msg != "" {
				v.errorf(gp+".namespace", "%s", msg)
			}
			if g.K8s != nil && g.K8s.Service != nil {
				ports := map[uint32]int{}
				for k, sp := range g.K8s.Service.Ports {
					pp := fmt.Sprintf("%s.k8s.service.ports[%d]", gp, k)
					v.port(pp+".port", sp.Port)
					if sp.TargetPort != 0 {
						v.port(pp+".targetPort", sp.TargetPort)
					}
					if prev, dup := ports[sp.Port]; dup {
						v.errorf(pp+".port", "port %d is already listed at ports[%d]", sp.Port, prev)
					}
					ports[sp.Port] = k
				}
			}
			for _, c := range inst.Clusters {
				k := key{c.Name, inst.GatewayRevision, g.Name}
				if prev, dup := seen[k]; dup {
					v.errorf(gp, "gateway %s (revision %q) is already installed in cluster %s by %s: one installation of each gateway per revision per cluster", g.Name, inst.GatewayRevision, c.Name, prev)
				}
				seen[k] = p
			}
		}
	}
}

func (v *validator) istioLifecycleManager(o *IstioLifecycleManager) {
	for i, inst := range o.Spec.Installations {
		p := fmt.Sprintf("spec.installations[%d]", i)
		for j, c := range inst.Clusters {
			v.cluster(fmt.Sprintf("%s.clusters[%d].name", p, j), c.Name)
			if c.TrustDomain != "" {
				v.trustDomain(fmt.Sprintf("%s.clusters[%d].trustDomain", p, j), c.TrustDomain)
			}
		}
		if s := inst.IstioOperatorSpec; s != nil && s.MeshConfig != nil && s.MeshConfig.TrustDomain != "" {
			v.trustDomain(p+".istioOperatorSpec.meshConfig.trustDomain", s.MeshConfig.TrustDomain)
		}
	}
}

func (v *validator) mesh(o *Mesh) {
	if o.Spec.TrustDomain != "" {
		v.trustDomain("spec.trustDomain", o.Spec.TrustDomain)
	}
}

func (v *validator) trustDomain(p, td string) {
	if checkDNSSubdomain(td) != "" {
		v.errorf(p, "trust domain %q must be lower-case letters, digits, '-' and '.' (it is the host of every SPIFFE ID)", td)
	}
}

func (v *validator) workload(o *Workload) {
	s := o.Spec
	if s.ServiceAccount == "" {
		v.errorf("spec.serviceAccount", "required: the service account names the workload's identity")
	} else if msg := checkDNSSubdomain(s.ServiceAccount); msg != "" {
		v.errorf("spec.serviceAccount", "%s", msg)
	}
	if s.Cluster == "" {
		v.errorf("spec.cluster", "required")
	} else {
		v.cluster("spec.cluster", s.Cluster)
	}
	if s.Sidecar != nil && s.Sidecar.Listen != "" {
		if _, err := netip.ParseAddrPort(s.Sidecar.Listen); err != nil {
			v.errorf("spec.sidecar.listen", "%q must be ip:port, e.g. 127.0.0.1:15001", s.Sidecar.Listen)
		}
	}
}
