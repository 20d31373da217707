package ir

import (
	"fmt"
	"slices"
	"strings"
)

// match reports whether the rule allows the request; when it does not but accepted the caller, why says
// which condition failed (an empty why means the caller itself was not accepted).
func (cr *compiledRule) match(r Request) (ok bool, why string) {
	rule := cr.r
	if rule.Never != "" {
		return false, ""
	}
	if r.Source.IsZero() {
		// Policies are about mesh identities: a caller without one is never allowed by them.
		return false, ""
	}
	if len(rule.Clients) > 0 {
		hit := false
		for i := range rule.Clients {
			if rule.Clients[i].matches(r.Source, cr.ids[i]) {
				hit = true
				break
			}
		}
		if !hit {
			return false, ""
		}
	}
	if r.Opaque && (len(rule.Methods) > 0 || len(rule.Paths) > 0 || len(rule.Headers) > 0) {
		return false, "an opaque TLS/TCP connection has no method, path or headers for the rule to match"
	}
	if len(rule.Methods) > 0 && !slices.ContainsFunc(rule.Methods, func(m string) bool { return strings.EqualFold(m, r.Method) }) {
		return false, fmt.Sprintf("method %s is not one of %s", r.Method, strings.Join(rule.Methods, ", "))
	}
	if len(rule.Paths) > 0 {
		path, _, _ := strings.Cut(r.Path, "?")
		if !slices.ContainsFunc(rule.Paths, func(p string) bool { return matchPath(p, path) }) {
			return false, fmt.Sprintf("path %s matches none of %s", path, strings.Join(rule.Paths, ", "))
		}
	}
	for _, h := range rule.Headers {
		if why := h.check(r.Headers); why != "" {
			return false, why
		}
	}
	return true, ""
}

func (c *ClientMatch) matches(id SpiffeID, labelled map[SpiffeID]struct{}) bool {
	if c.ByLabels {
		_, ok := labelled[id]
		return ok
	}
	return (c.ServiceAccount == "" || c.ServiceAccount == id.ServiceAccount) &&
		(c.Namespace == "" || c.Namespace == id.Namespace) &&
		(c.TrustDomain == "" || c.TrustDomain == id.TrustDomain)
}

// matchPath implements the AccessPolicy path forms: exact, prefix "/books*", suffix "*books/" and "*".
func matchPath(pattern, path string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(path, pattern[:len(pattern)-1])
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(path, pattern[1:])
	default:
		return path == pattern
	}
}

// matchValue matches a header value against an exact, "prefix*", "*suffix" or "*" pattern.
func matchValue(pattern, v string) bool { return matchPath(pattern, v) }

// check returns why the header condition fails, or "" when it holds.
func (h *HeaderMatch) check(get Headers) string {
	var vals []string
	if get != nil {
		vals = get(h.Name)
	}
	for _, v := range vals {
		for _, nv := range h.NotValues {
			if matchValue(nv, v) {
				return fmt.Sprintf("header %s value %q is excluded by %q", h.Name, v, nv)
			}
		}
	}
	if len(h.Values) == 0 {
		return ""
	}
	for _, v := range vals {
		for _, want := range h.Values {
			if matchValue(want, v) {
				return ""
			}
		}
	}
	if len(vals) == 0 {
		return fmt.Sprintf("header %s is missing", h.Name)
	}
	return fmt.Sprintf("header %s value %q matches none of %s", h.Name, vals[0], strings.Join(h.Values, ", "))
}
