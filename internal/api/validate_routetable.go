package api

import (
	"fmt"
	"regexp"
	"strings"
)

// notActed is the tail of every error on a RouteTable field egret does not act on.
const notActed = "only forwardTo to EXTERNAL_SERVICE destinations"

func (v *validator) routeTable(o *RouteTable) {
	s := o.Spec
	v.routeTableWhere(s)
	v.routeTableUnacted(s)
	if len(s.HTTP) == 0 && len(s.TCP) == 0 && len(s.TLS) == 0 {
		v.errorf("spec.http", "required: at least one route")
	}
	names := map[string]int{}
	for i, r := range s.HTTP {
		p := fmt.Sprintf("spec.http[%d]", i)
		if r.Name != "" {
			if j, dup := names[r.Name]; dup {
				v.errorf(p+".name", "%q is already the name of spec.http[%d]", r.Name, j)
			}
			names[r.Name] = i
		}
		v.httpRoute(p, r)
	}
}

// routeTableWhere checks the hosts a route table serves and where it applies.
func (v *validator) routeTableWhere(s RouteTableSpec) {
	if len(s.Hosts) == 0 {
		v.errorf("spec.hosts", "required: egret reads only route tables that name their hosts (delegated child tables are not supported)")
	}
	for i, h := range s.Hosts {
		if msg := checkHost(h); msg != "" {
			v.errorf(fmt.Sprintf("spec.hosts[%d]", i), "%s", msg)
		}
	}
	for i, ref := range s.VirtualGateways {
		p := fmt.Sprintf("spec.virtualGateways[%d]", i)
		if ref.Name == "" {
			v.errorf(p+".name", "required")
		}
		if ref.Cluster != "" {
			v.cluster(p+".cluster", ref.Cluster)
		}
	}
	for i, w := range s.WorkloadSelectors {
		p := fmt.Sprintf("spec.workloadSelectors[%d]", i)
		if w.Kind == "VM" {
			v.errorf(p+".kind", "VM workloads are not supported by route tables (Gloo's rule too)")
		}
		if w.Port != nil {
			v.errorf(p+".port", "not allowed on a route table's workload selector: only selector.labels may be set")
		}
		if sel := w.Selector; sel != nil && (sel.Name != "" || sel.Namespace != "" || sel.Cluster != "" || sel.Workspace != "") {
			v.errorf(p+".selector", "only selector.labels may be set on a route table's workload selector (Gloo's rule)")
		}
	}
}

// unacted is the error on a RouteTable field egret does not act on.
func (v *validator) unacted(path, what string) {
	v.errorf(path, "egret does not act on %s: %s", what, notActed)
}

// routeTableUnacted reports the route table's fields egret does not act on (errors) or ignores (warnings).
func (v *validator) routeTableUnacted(s RouteTableSpec) {
	if len(s.ApplyToDestinations) > 0 {
		v.unacted("spec.applyToDestinations", "applyToDestinations (producer-side routing)")
	}
	if s.DefaultDestination != nil {
		v.unacted("spec.defaultDestination", "defaultDestination; list the destinations of each forwardTo")
	}
	if len(s.TCP) > 0 {
		v.unacted("spec.tcp", "TCP routes")
	}
	if len(s.TLS) > 0 {
		v.unacted("spec.tls", "TLS routes")
	}
	if s.Weight != 0 {
		v.warnf("spec.weight", "ignored: it orders delegated tables, and egret does not delegate")
	}
	if s.PortalMetadata != nil {
		v.warnf("spec.portalMetadata", "ignored: egret has no developer portal")
	}
	if s.FailureMode != nil {
		v.warnf("spec.failureMode", "ignored: an invalid route table is left out whole and the last good configuration keeps running")
	}
	if len(s.VirtualServiceAnnotations) > 0 {
		v.warnf("spec.virtualServiceAnnotations", "ignored by egret")
	}
}

// httpRoute checks one HTTP route at p: its matchers and its one action.
func (v *validator) httpRoute(p string, r HTTPRoute) {
	for j, m := range r.Matchers {
		v.httpMatcher(fmt.Sprintf("%s.matchers[%d]", p, j), m)
	}
	actions := 0
	for _, a := range []struct {
		set  bool
		name string
	}{{r.Delegate != nil, "delegate"}, {r.Redirect != nil, "redirect"}, {r.DirectResponse != nil, "directResponse"}, {r.Graphql != nil, "graphql"}} {
		if a.set {
			actions++
			v.unacted(p+"."+a.name, a.name)
		}
	}
	if r.ForwardTo != nil {
		actions++
		v.forwardTo(p+".forwardTo", r.ForwardTo)
	}
	switch {
	case actions == 0:
		v.errorf(p, "required: an action (egret acts on forwardTo)")
	case actions > 1:
		v.errorf(p, "set one action (forwardTo, delegate, redirect, directResponse or graphql), not %d", actions)
	}
}

func (v *validator) httpMatcher(p string, m HTTPRequestMatcher) {
	if m.Name != "" {
		v.warnf(p+".name", "ignored (Gloo marks it unsupported)")
	}
	if u := m.URI; u != nil {
		set := 0
		for _, s := range []string{u.Exact, u.Prefix, u.Regex, u.Suffix} {
			if s != "" {
				set++
			}
		}
		switch {
		case u.Suffix != "":
			v.errorf(p+".uri.suffix", "not supported (Gloo marks it unsupported too): use regex")
		case set == 0:
			v.errorf(p+".uri", "set one of exact, prefix or regex")
		case set > 1:
			v.errorf(p+".uri", "set one of exact, prefix or regex, not %d", set)
		}
		if u.Regex != "" {
			if _, err := regexp.Compile(u.Regex); err != nil {
				v.errorf(p+".uri.regex", "not a valid RE2 regular expression: %v", err)
			}
			if u.IgnoreCase {
				v.warnf(p+".uri.ignoreCase", "has no effect on a regex (as in Gloo); write (?i) in the regex")
			}
		}
		if (u.Exact != "" && !strings.HasPrefix(u.Exact, "/")) || (u.Prefix != "" && !strings.HasPrefix(u.Prefix, "/")) {
			v.errorf(p+".uri", "a path starts with /")
		}
	}
	for i, h := range m.Headers {
		hp := fmt.Sprintf("%s.headers[%d]", p, i)
		if h.Name == "" {
			v.errorf(hp+".name", "required")
		}
		if h.Regex {
			if h.Value == "" {
				v.errorf(hp+".value", "required with regex: true")
			} else if _, err := regexp.Compile(h.Value); err != nil {
				v.errorf(hp+".value", "not a valid RE2 regular expression: %v", err)
			}
		}
	}
	if len(m.QueryParameters) > 0 {
		v.errorf(p+".queryParameters", "egret does not match query parameters yet: a matcher that ignored them would match more requests than written")
	}
	if m.Method != "" && strings.ContainsAny(m.Method, " \t/") {
		v.errorf(p+".method", "%q is not an HTTP method", m.Method)
	}
	if m.Port > 65535 {
		v.errorf(p+".port", "must be 0-65535, got %d", m.Port)
	}
}

func (v *validator) forwardTo(p string, f *ForwardTo) {
	if f.PathRewrite != "" {
		v.errorf(p+".pathRewrite", "egret does not act on pathRewrite: %s, without rewrites", notActed)
	}
	if f.RegexRewrite != nil {
		v.errorf(p+".regexRewrite", "egret does not act on regexRewrite: %s, without rewrites", notActed)
	}
	if f.HostRewrite != "" {
		v.errorf(p+".hostRewrite", "egret does not act on hostRewrite: %s, without rewrites (the external service always sees its own host)", notActed)
	}
	if f.AutoHostRewrite != nil {
		v.warnf(p+".autoHostRewrite", "ignored: egret always sends the external service's own host")
	}
	switch {
	case len(f.Destinations) == 0:
		v.errorf(p+".destinations", "required: at least one EXTERNAL_SERVICE destination (egret does not read defaultDestination)")
	case len(f.Destinations) > 100:
		v.errorf(p+".destinations", "at most 100 destinations, got %d", len(f.Destinations))
	}
	for i, d := range f.Destinations {
		dp := fmt.Sprintf("%s.destinations[%d]", p, i)
		switch d.Kind {
		case DestinationExternalService:
		case "":
			v.errorf(dp+".kind", "Gloo's default destination kind is SERVICE, a Kubernetes Service, which egret does not route to: set kind: EXTERNAL_SERVICE (%s)", notActed)
		default:
			v.errorf(dp+".kind", "egret does not act on %s destinations: %s", d.Kind, notActed)
		}
		if d.AWSLambda != nil {
			v.errorf(dp+".awsLambda", "egret does not act on awsLambda destinations: %s", notActed)
		} else if d.Ref == nil || d.Ref.Name == "" {
			v.errorf(dp+".ref.name", "required: the ExternalService to forward to")
		} else if d.Ref.Cluster != "" {
			v.cluster(dp+".ref.cluster", d.Ref.Cluster)
		}
		if len(d.Subset) > 0 {
			v.errorf(dp+".subset", "egret does not act on subset (Kubernetes targets only): %s", notActed)
		}
		if d.Port != nil && d.Port.Number != 0 {
			v.port(dp+".port.number", d.Port.Number)
		}
	}
	if _, msg := RouteWeights(f.Destinations); msg != "" {
		v.errorf(p+".destinations", "%s", msg)
	}
}

// RouteWeights applies Gloo's weight rules: weights must total 100; a shortfall is spread over the
// unweighted destinations (at least 1 each, the remainder to the first); more than 100, or 100 with
// unweighted destinations left, is invalid. msg says why when the weights are invalid.
func RouteWeights(ds []RouteDestination) (weights []uint32, msg string) {
	var total uint64
	unweighted := 0
	for _, d := range ds {
		total += uint64(d.Weight)
		if d.Weight == 0 {
			unweighted++
		}
	}
	switch {
	case len(ds) == 0:
		return nil, ""
	case total > 100:
		return nil, fmt.Sprintf("weights total %d; they must total 100", total)
	case total == 100 && unweighted > 0:
		return nil, fmt.Sprintf("weights already total 100 and %d %s no weight; give every destination a weight, or leave room for the unweighted ones", unweighted, pluralVerb(unweighted))
	case total < 100 && unweighted == 0:
		return nil, fmt.Sprintf("weights total %d; they must total 100 (or leave destinations unweighted to take the rest)", total)
	case unweighted > 0 && 100-total < uint64(unweighted):
		return nil, fmt.Sprintf("weights total %d, which leaves less than 1 for each of the %d unweighted destinations", total, unweighted)
	}
	weights = make([]uint32, len(ds))
	share, extra := uint32(0), uint32(0)
	if unweighted > 0 {
		share, extra = uint32(100-total)/uint32(unweighted), uint32(100-total)%uint32(unweighted)
	}
	for i, d := range ds {
		weights[i] = d.Weight
		if d.Weight == 0 {
			weights[i] = share
			if extra > 0 {
				weights[i]++
				extra--
			}
		}
	}
	return weights, ""
}

func pluralVerb(n int) string {
	if n == 1 {
		return "destination has"
	}
	return "destinations have"
}

// routeTableReferences checks that the VirtualGateways and ExternalService ports a route table names exist.
func (v *validator) routeTableReferences(s *Snapshot) {
	vgs := map[string]bool{}
	for _, g := range s.VirtualGateways {
		vgs[g.Metadata.Namespace+"/"+g.Metadata.Name] = true
	}
	ess := map[string]*ExternalService{}
	for _, es := range s.ExternalServices {
		ess[es.Metadata.Namespace+"/"+es.Metadata.Name] = es
	}
	for _, rt := range s.RouteTables {
		v.obj = rt
		ns := rt.Metadata.Namespace
		for i, ref := range rt.Spec.VirtualGateways {
			if id := orDefault(ref.Namespace, ns) + "/" + ref.Name; ref.Name != "" && !vgs[id] {
				v.errorf(fmt.Sprintf("spec.virtualGateways[%d]", i), "VirtualGateway %s does not exist", id)
			}
		}
		for i, r := range rt.Spec.HTTP {
			if r.ForwardTo == nil {
				continue
			}
			for j, d := range r.ForwardTo.Destinations {
				if d.Kind != DestinationExternalService || d.Ref == nil || d.Ref.Name == "" {
					continue
				}
				dp := fmt.Sprintf("spec.http[%d].forwardTo.destinations[%d]", i, j)
				id := orDefault(d.Ref.Namespace, ns) + "/" + d.Ref.Name
				es := ess[id]
				if es == nil {
					v.errorf(dp+".ref", "ExternalService %s does not exist", id)
					continue
				}
				if len(es.Spec.Hosts) == 0 {
					v.errorf(dp+".ref", "ExternalService %s has no hosts (only addresses): a route needs a host to send the request to", id)
				}
				if _, msg := DestinationPort(es, d.Port); msg != "" {
					v.errorf(dp+".port", "%s", msg)
				}
			}
		}
	}
}

// DestinationPort finds the ExternalService port a route destination names; msg says why when none fits.
func DestinationPort(es *ExternalService, sel *PortSelector) (ServicePort, string) {
	id := es.Metadata.Namespace + "/" + es.Metadata.Name
	if sel == nil || (sel.Number == 0 && sel.Name == "") {
		if len(es.Spec.Ports) == 1 {
			return es.Spec.Ports[0], ""
		}
		return ServicePort{}, fmt.Sprintf("required: ExternalService %s has %d ports", id, len(es.Spec.Ports))
	}
	for _, p := range es.Spec.Ports {
		if (sel.Number != 0 && p.Number == sel.Number) || (sel.Number == 0 && p.Name == sel.Name) {
			return p, ""
		}
	}
	if sel.Number != 0 {
		return ServicePort{}, fmt.Sprintf("ExternalService %s has no port %d", id, sel.Number)
	}
	return ServicePort{}, fmt.Sprintf("ExternalService %s has no port named %q", id, sel.Name)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
