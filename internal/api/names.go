package api

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	hostLabel    = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?$`)
	labelName    = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	methodToken  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

func checkDNSLabel(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 63 || !dnsLabel.MatchString(s) {
		return fmt.Sprintf("%q is not a DNS-1123 label (lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit)", s)
	}
	return ""
}

func checkDNSSubdomain(s string) string {
	if len(s) > 253 || !dnsSubdomain.MatchString(s) {
		return fmt.Sprintf("%q is not a DNS-1123 name (lower-case letters, digits, '-' and '.', at most 253)", s)
	}
	return ""
}

// checkClusterName explains why an underscore is refused: the name becomes a certificate SAN.
func checkClusterName(s string) string {
	if strings.Contains(s, "_") {
		return fmt.Sprintf("cluster name %q contains '_': cluster names become SANs and trust domains in certificates, and an underscore is not valid there; rename it, e.g. %q", s, strings.ReplaceAll(s, "_", "-"))
	}
	if len(s) > 63 || !dnsLabel.MatchString(s) {
		return fmt.Sprintf("cluster name %q is not a DNS-1123 label (lower-case letters, digits and '-', at most 63): it becomes a SAN and trust domain in certificates", s)
	}
	return ""
}

func checkLabelKey(k string) string {
	name := k
	if prefix, n, ok := strings.Cut(k, "/"); ok {
		if checkDNSSubdomain(prefix) != "" {
			return fmt.Sprintf("label key prefix %q must be a DNS-1123 name", prefix)
		}
		name = n
	}
	if len(name) == 0 || len(name) > 63 || !labelName.MatchString(name) {
		return fmt.Sprintf("label key %q is not valid (letters, digits, '-', '_', '.', at most 63)", k)
	}
	return ""
}

// checkHost validates an external host name: an FQDN, or a wildcard that is the whole first label.
func checkHost(h string) string {
	if h == "" {
		return "must not be empty"
	}
	if strings.Contains(h, "://") || strings.ContainsAny(h, "/:") {
		return fmt.Sprintf("%q must be a host name only (no scheme, port or path)", h)
	}
	name := h
	if strings.HasPrefix(h, "*.") {
		name = h[2:]
	}
	if strings.Contains(name, "*") {
		if h == "*" {
			return `"*" alone would match every host; name a domain, e.g. "*.example.com"`
		}
		return fmt.Sprintf("%q: a wildcard is allowed only as the whole first label, e.g. \"*.example.com\"", h)
	}
	if len(name) > 253 {
		return fmt.Sprintf("%q is longer than 253 characters", h)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Sprintf("%q is an IP address; list it under addresses instead of hosts", h)
	}
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if len(l) > 63 || !hostLabel.MatchString(l) {
			return fmt.Sprintf("%q is not a valid host name (label %q)", h, l)
		}
	}
	return ""
}

// checkHostFilter validates an exposedExternalServices host: an optional "namespace/" prefix ("*/" any,
// "./" the VirtualGateway's own), then a host or "*".
func checkHostFilter(h string) string {
	if ns, rest, ok := strings.Cut(h, "/"); ok {
		if ns != "*" && ns != "." {
			if msg := checkDNSLabel(ns); msg != "" {
				return "namespace prefix: " + msg
			}
		}
		h = rest
	}
	if h == "*" {
		return ""
	}
	return checkHost(h)
}
