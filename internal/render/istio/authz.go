package istio

import (
	"slices"
	"sort"
	"strings"

	secapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"egret.dev/egret/internal/ir"
)

const securityAPI = "security.istio.io/v1"

// authorizationPolicies puts each AccessPolicy on every gateway of this cluster that serves a service it
// applies to, as an ALLOW policy whose every rule names the service's hosts. Istio denies a request that
// no ALLOW policy of the workload matches, so a gateway with any policy also gets the policy
// "egret-unrestricted", which allows every host that no policy restricts: the result is deny by default
// exactly for the hosts that have policies, as egret decides. A rule egret cannot check (Rule.Never) is
// left out, so it matches nothing; dry-run rules become a policy with Istio's dry-run annotation.
func (r *renderer) authorizationPolicies() {
	for _, key := range r.order {
		grp := r.groups[key]
		gw := grp.active
		served := r.servedBy(grp)
		var restricted []string
		for _, p := range r.plan.Policies {
			hosts := dedupe(append(r.policyHosts(&p, served), r.tableHosts[key][p.ID]...))
			if len(hosts) == 0 {
				continue
			}
			var enforced, dry []*secapi.Rule
			anyEnforced := false
			for _, rule := range p.Rules {
				if !rule.DryRun {
					anyEnforced = true
				}
				if rule.Never != "" {
					continue
				}
				rs := istioRules(rule, hosts)
				if rule.DryRun {
					dry = append(dry, rs...)
				} else {
					enforced = append(enforced, rs...)
				}
			}
			if anyEnforced {
				restricted = append(restricted, hosts...)
				r.out.AuthorizationPolicies = append(r.out.AuthorizationPolicies, r.authz(p, gw, "", enforced))
			}
			if len(dry) > 0 {
				ap := r.authz(p, gw, "dryrun", dry)
				ap.Annotations[AnnotationDryRun] = "true"
				r.out.AuthorizationPolicies = append(r.out.AuthorizationPolicies, ap)
			}
		}
		if len(restricted) == 0 {
			continue
		}
		sort.Strings(restricted)
		ap := &securityv1.AuthorizationPolicy{
			TypeMeta:   typeMeta(securityAPI, "AuthorizationPolicy"),
			ObjectMeta: r.meta(objectName("egret-unrestricted", gw.Name), gw.Namespace, ownerOf("GatewayLifecycleManager", installOwner(gw))),
		}
		ap.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: gw.Labels}
		ap.Spec.Action = secapi.AuthorizationPolicy_ALLOW
		ap.Spec.Rules = []*secapi.Rule{{To: []*secapi.Rule_To{{Operation: &secapi.Operation{NotHosts: dedupe(restricted)}}}}}
		r.out.AuthorizationPolicies = append(r.out.AuthorizationPolicies, ap)
	}
}

func (r *renderer) authz(p ir.Policy, gw *ir.Gateway, suffix string, rules []*secapi.Rule) *securityv1.AuthorizationPolicy {
	ap := &securityv1.AuthorizationPolicy{
		TypeMeta:   typeMeta(securityAPI, "AuthorizationPolicy"),
		ObjectMeta: r.meta(objectName("accesspolicy", p.Name, p.Namespace, gw.Name, suffix), gw.Namespace, ownerOf("AccessPolicy", p.ID)),
	}
	ap.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: gw.Labels}
	ap.Spec.Action = secapi.AuthorizationPolicy_ALLOW
	ap.Spec.Rules = rules
	return ap
}

// servedBy lists the services whose routes go through the group's gateway.
func (r *renderer) servedBy(grp *gatewayGroup) map[string]*ir.ExternalService {
	out := map[string]*ir.ExternalService{}
	for _, rt := range r.plan.Routes {
		if g, _ := r.localTarget(rt.Targets); g == grp && r.services[rt.ServiceID] != nil {
			out[rt.ServiceID] = r.services[rt.ServiceID]
		}
	}
	return out
}

// policyHosts are the host patterns, as authorization hosts, of the served services a policy applies to.
// A target naming one port counts only when that port is the one the gateway dials.
func (r *renderer) policyHosts(p *ir.Policy, served map[string]*ir.ExternalService) []string {
	var out []string
	for _, t := range p.Targets {
		s := served[t.ServiceID]
		if s == nil || t.Port != 0 && !slices.ContainsFunc(r.plan.Routes, func(rt ir.Route) bool { return rt.ServiceID == s.ID && rt.Port == t.Port }) {
			continue
		}
		for _, h := range s.Hosts {
			out = append(out, authzHosts(h)...)
		}
	}
	return dedupe(out)
}

// authzHosts: Istio matches hosts against the Host header, which may carry a port, so an exact host is
// listed with and without one; a wildcard ("*.example.com", a suffix match) covers both already.
func authzHosts(h ir.HostPattern) []string {
	if h == "*" {
		return []string{"*"}
	}
	if h.IsWildcard() {
		return []string{string(h)}
	}
	return []string{string(h), string(h) + ":*"}
}

// istioRules turns one egret rule into Istio rules: one per client selector (Istio ORs the sources of a
// rule but ANDs its conditions, and a selector with a trust domain and a service account needs a
// condition), each with the same hosts, methods, paths and header conditions.
func istioRules(rule ir.Rule, hosts []string) []*secapi.Rule {
	op := &secapi.Operation{Hosts: hosts, Methods: upper(rule.Methods), Paths: rule.Paths}
	var when []*secapi.Condition
	for _, h := range rule.Headers {
		c := &secapi.Condition{Key: "request.headers[" + h.Name + "]", Values: h.Values, NotValues: h.NotValues}
		if len(c.Values) == 0 {
			// Istio requires values or notValues; "*" is "present with any value", which an egret header
			// condition with only notValues does not require, so such a condition keeps notValues alone.
			if len(c.NotValues) == 0 {
				c.Values = []string{"*"}
			}
		}
		when = append(when, c)
	}
	clients := rule.Clients
	if len(clients) == 0 {
		clients = []ir.ClientMatch{{}}
	}
	var out []*secapi.Rule
	for _, c := range clients {
		src, cond, ok := source(c)
		if !ok {
			continue
		}
		ir := &secapi.Rule{
			From: []*secapi.Rule_From{{Source: src}},
			To:   []*secapi.Rule_To{{Operation: op}},
			When: append(append([]*secapi.Condition(nil), when...), cond...),
		}
		out = append(out, ir)
	}
	return out
}

// source is the Istio source of one client selector. Principals are SPIFFE IDs without "spiffe://";
// Istio allows one "*" at either end, which is enough for every selector but trust domain + service
// account, where the trust domain becomes a condition on source.principal.
func source(c ir.ClientMatch) (*secapi.Source, []*secapi.Condition, bool) {
	if c.ByLabels {
		var ps []string
		for _, id := range c.Identities {
			ps = append(ps, principal(id))
		}
		// No workload carries the labels: the client matches nobody, and the rule is left out.
		return &secapi.Source{Principals: ps}, nil, len(ps) > 0
	}
	td, ns, sa := c.TrustDomain, c.Namespace, c.ServiceAccount
	switch {
	case td != "" && ns != "" && sa != "":
		return &secapi.Source{Principals: []string{td + "/ns/" + ns + "/sa/" + sa}}, nil, true
	case td != "" && ns != "":
		return &secapi.Source{Principals: []string{td + "/ns/" + ns + "/sa/*"}}, nil, true
	case td != "" && sa != "":
		return &secapi.Source{Principals: []string{"*/sa/" + sa}},
			[]*secapi.Condition{{Key: "source.principal", Values: []string{td + "/*"}}}, true
	case td != "":
		return &secapi.Source{Principals: []string{td + "/*"}}, nil, true
	case ns != "" && sa != "":
		return &secapi.Source{Principals: []string{"*/ns/" + ns + "/sa/" + sa}}, nil, true
	case ns != "":
		return &secapi.Source{Namespaces: []string{ns}}, nil, true
	case sa != "":
		return &secapi.Source{Principals: []string{"*/sa/" + sa}}, nil, true
	default:
		// Any authenticated caller: "*" requires a principal, which only mTLS gives.
		return &secapi.Source{Principals: []string{"*"}}, nil, true
	}
}

func principal(id ir.SpiffeID) string {
	return id.TrustDomain + "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount
}

func upper(ms []string) []string {
	var out []string
	for _, m := range ms {
		out = append(out, strings.ToUpper(m))
	}
	return out
}

func dedupe(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
