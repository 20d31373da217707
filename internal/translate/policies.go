package translate

import (
	"fmt"
	"slices"
	"strings"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// policies resolves each AccessPolicy to the ExternalService ports it applies to and compiles its rules.
func (t *translator) policies() {
	for _, ap := range t.snap.AccessPolicies {
		if !t.valid(ap) {
			continue
		}
		m := ap.Metadata
		p := ir.Policy{ID: m.Namespace + "/" + m.Name, Name: m.Name, Namespace: m.Namespace, Targets: t.memoTargets(ap, t.policyTargets(ap))}
		if len(p.Targets) == 0 {
			t.warn(ap, "spec.applyToDestinations", "selects no ExternalService")
		}
		authz := ap.Spec.Config.AuthzList
		path := "spec.config.authzList"
		if len(authz) == 0 && ap.Spec.Config.Authz != nil {
			// authz is deprecated and used only when authzList is empty, as in Gloo.
			authz, path = []api.Authorization{*ap.Spec.Config.Authz}, "spec.config.authz"
		}
		p.Rules = t.memoRules(ap, func() (rules []ir.Rule) {
			for i, a := range authz {
				rpath := path
				if path == "spec.config.authzList" {
					rpath = fmt.Sprintf("%s[%d]", path, i)
				}
				rules = append(rules, t.rule(ap, rpath, a))
			}
			return rules
		})
		t.plan.Policies = append(t.plan.Policies, p)
	}
}

func (t *translator) policyTargets(ap *api.AccessPolicy) []ir.PolicyTarget {
	dests := ap.Spec.ApplyToDestinations
	all := len(dests) == 0
	var out []ir.PolicyTarget
	seen := map[ir.PolicyTarget]bool{}
	add := func(pt ir.PolicyTarget) {
		if !seen[pt] {
			seen[pt] = true
			out = append(out, pt)
		}
	}
	for i, d := range dests {
		if d.Kind != api.DestinationExternalService {
			kind := cmpOr(string(d.Kind), string(api.DestinationService))
			t.warn(ap, fmt.Sprintf("spec.applyToDestinations[%d].kind", i),
				"kind %s is ignored: egret controls egress to ExternalServices only", kind)
		}
	}
	for _, es := range t.candidates(dests, all) {
		if !t.valid(es) {
			continue
		}
		if !t.sees(ap, es) {
			if !all && selectedByAny(dests, es) {
				t.warn(ap, "spec.applyToDestinations", "ExternalService %s is not visible in %s, so this policy does not apply to it", serviceID(es), t.workspaceText(ap))
			}
			continue
		}
		if all {
			add(ir.PolicyTarget{ServiceID: serviceID(es)})
			continue
		}
		for _, d := range dests {
			if d.Kind != api.DestinationExternalService || (d.Selector != nil && !objectSelected(d.Selector, es)) {
				continue
			}
			if d.Port == nil || (d.Port.Number == 0 && d.Port.Name == "") {
				add(ir.PolicyTarget{ServiceID: serviceID(es)})
				continue
			}
			for _, p := range es.Spec.Ports {
				if (d.Port.Number != 0 && p.Number == d.Port.Number) || (d.Port.Number == 0 && p.Name == d.Port.Name) {
					add(ir.PolicyTarget{ServiceID: serviceID(es), Port: p.Number})
				}
			}
		}
	}
	return out
}

// rule compiles one Authorization. Conditions egret cannot check make the rule match nothing (with a
// warning): ignoring them would let through callers the author meant to exclude.
func (t *translator) rule(ap *api.AccessPolicy, path string, a api.Authorization) ir.Rule {
	r := ir.Rule{DryRun: a.DryRun, Paths: append([]string(nil), a.AllowedPaths...)}
	for _, m := range a.AllowedMethods {
		r.Methods = append(r.Methods, strings.ToUpper(m))
	}
	var never []string
	for i, c := range a.AllowedClients {
		switch {
		case c.ExternalWorkloadSelector != nil:
			never = append(never, fmt.Sprintf("allowedClients[%d].externalWorkloadSelector", i))
		case c.RequestIdentityMatcher != nil:
			never = append(never, fmt.Sprintf("allowedClients[%d].requestIdentityMatcher", i))
		case c.ServiceAccountSelector != nil && c.ServiceAccountSelector.Workspace != "":
			// Not read yet: ignoring it would allow callers of every workspace.
			never = append(never, fmt.Sprintf("allowedClients[%d].serviceAccountSelector.workspace", i))
		default:
			r.Clients = append(r.Clients, t.clientMatch(c.ServiceAccountSelector))
		}
	}
	if len(a.AllowedIPBlocks) > 0 {
		never = append(never, "allowedIpBlocks")
	}
	if len(a.AllowedRemoteIPBlocks) > 0 {
		never = append(never, "allowedRemoteIpBlocks")
	}
	if len(never) > 0 {
		r.Never = "unsupported: " + strings.Join(never, ", ")
		t.warn(ap, path, "%s not supported by egret; this rule allows nothing", strings.Join(never, ", "))
	}
	if a.Match != nil && a.Match.Request != nil {
		names := make([]string, 0, len(a.Match.Request.Headers))
		for n := range a.Match.Request.Headers {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			hv := a.Match.Request.Headers[n]
			r.Headers = append(r.Headers, ir.HeaderMatch{
				Name: strings.ToLower(n), Values: append([]string(nil), hv.Values...), NotValues: append([]string(nil), hv.NotValues...),
			})
		}
	}
	return r
}

// clientMatch compiles a serviceAccountSelector; nil or empty matches any identity. A selector with labels
// matches the identities of the Workloads carrying them (and its other fields).
func (t *translator) clientMatch(s *api.ObjectSelector) ir.ClientMatch {
	if s == nil {
		return ir.ClientMatch{}
	}
	c := ir.ClientMatch{ServiceAccount: s.Name, Namespace: s.Namespace, Cluster: s.Cluster}
	if s.Cluster != "" {
		c.TrustDomain = t.trustDomain(s.Cluster)
	}
	if len(s.Labels) > 0 {
		c.ByLabels = true
		for _, w := range t.plan.Workloads {
			if labelsMatch(s.Labels, w.Labels) &&
				(s.Name == "" || s.Name == w.ServiceAccount) &&
				(s.Namespace == "" || s.Namespace == w.Namespace) &&
				(s.Cluster == "" || s.Cluster == w.Cluster) &&
				!slices.Contains(c.Identities, w.Identity) {
				c.Identities = append(c.Identities, w.Identity)
			}
		}
	}
	return c
}

// candidates narrows the ExternalServices a policy's destinations can select: when every destination names
// a service, only services of those names are looked at, which keeps translation linear in the number of
// policies rather than policies × services.
func (t *translator) candidates(dests []api.DestinationSelector, all bool) []*api.ExternalService {
	if all {
		return t.snap.ExternalServices
	}
	if t.esByName == nil {
		t.esByName = map[string][]*api.ExternalService{}
		for _, es := range t.snap.ExternalServices {
			t.esByName[es.Metadata.Name] = append(t.esByName[es.Metadata.Name], es)
		}
	}
	var out []*api.ExternalService
	for _, d := range dests {
		if d.Kind != api.DestinationExternalService {
			continue
		}
		if d.Selector == nil || d.Selector.Name == "" {
			return t.snap.ExternalServices
		}
		for _, es := range t.esByName[d.Selector.Name] {
			if !slices.Contains(out, es) {
				out = append(out, es)
			}
		}
	}
	// Keep input order, so targets come out in the same order as without the shortcut.
	slices.SortStableFunc(out, func(a, b *api.ExternalService) int { return t.esOrder(a) - t.esOrder(b) })
	return out
}

func (t *translator) esOrder(es *api.ExternalService) int {
	if t.esIndex == nil {
		t.esIndex = make(map[*api.ExternalService]int, len(t.snap.ExternalServices))
		for i, e := range t.snap.ExternalServices {
			t.esIndex[e] = i
		}
	}
	return t.esIndex[es]
}
