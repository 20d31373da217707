package ir

import (
	"fmt"
	"strings"
)

// HostPattern is a lower-case DNS name, either exact ("www.google.com") or a wildcard ("*.google.com")
// that, as in Istio, matches one or more labels in place of the "*" but not the bare suffix. The single
// pattern "*" matches every host.
type HostPattern string

// ParseHostPattern checks and lower-cases a host pattern; a "*" is allowed only as the whole first label.
func ParseHostPattern(s string) (HostPattern, error) {
	h := strings.ToLower(strings.TrimSuffix(s, "."))
	if h == "*" {
		return HostPattern(h), nil
	}
	if h == "" {
		return "", fmt.Errorf("host %q: empty", s)
	}
	body := strings.TrimPrefix(h, "*.")
	if strings.Contains(body, "*") {
		return "", fmt.Errorf("host %q: a wildcard is allowed only as the whole first label", s)
	}
	for _, label := range strings.Split(body, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("host %q: empty or over-long label", s)
		}
	}
	return HostPattern(h), nil
}

// IsWildcard reports whether the pattern starts with "*".
func (h HostPattern) IsWildcard() bool { return strings.HasPrefix(string(h), "*") }

// Suffix is what a wildcard pattern requires after the matched labels ("google.com" for "*.google.com",
// "" for "*"); for an exact pattern it is the host itself.
func (h HostPattern) Suffix() string {
	if h == "*" {
		return ""
	}
	return strings.TrimPrefix(string(h), "*.")
}

// Matches reports whether host (any case, optional trailing dot) is matched by the pattern.
func (h HostPattern) Matches(host string) bool {
	host = NormalizeHost(host)
	switch {
	case h == "*":
		return host != ""
	case h.IsWildcard():
		suffix := string(h)[1:] // ".google.com"
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	default:
		return string(h) == host
	}
}

// Covers reports whether every host the other pattern matches is also matched by h; used to decide whether
// a gateway listener that exposes h can serve an ExternalService whose host is other.
func (h HostPattern) Covers(other HostPattern) bool {
	if h == "*" || h == other {
		return true
	}
	if !h.IsWildcard() {
		return false
	}
	if other == "*" {
		return false
	}
	return h.Matches(strings.TrimPrefix(string(other), "*."))
}

// NormalizeHost lower-cases a host name and drops a trailing dot, the forms in which callers send it.
func NormalizeHost(host string) string {
	return strings.ToLower(strings.TrimSuffix(host, "."))
}
