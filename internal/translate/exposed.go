package translate

import (
	"strings"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// parseExposed reads an exposedExternalServices host: "host", "*/host" (any namespace), "./host" (the
// VirtualGateway's namespace) or "ns/host".
func parseExposed(s, ownNamespace string) (ir.ExposedHost, error) {
	ns, host, found := strings.Cut(s, "/")
	if !found {
		ns, host = "", s
	}
	switch ns {
	case "*":
		ns = ""
	case ".":
		ns = ownNamespace
	}
	h, err := ir.ParseHostPattern(host)
	if err != nil {
		return ir.ExposedHost{}, err
	}
	return ir.ExposedHost{Namespace: ns, Host: h}, nil
}

// exposes reports whether a VirtualGateway listener (in namespace vgNamespace) serves host of the
// ExternalService es: an empty exposedExternalServices list exposes every service.
func exposes(l *api.Listener, vgNamespace string, es *api.ExternalService, host ir.HostPattern) bool {
	if len(l.ExposedExternalServices) == 0 {
		return true
	}
	for _, f := range l.ExposedExternalServices {
		e, err := parseExposed(f.Host, vgNamespace)
		if err != nil || (e.Namespace != "" && e.Namespace != es.Metadata.Namespace) || !e.Host.Covers(host) {
			continue
		}
		if f.Selector != nil && !objectSelected(f.Selector, es) {
			continue
		}
		return true
	}
	return false
}

// objectSelected applies an ObjectSelector (name, namespace, cluster, labels; empty = any) to an ExternalService.
func objectSelected(s *api.ObjectSelector, es *api.ExternalService) bool {
	m := es.Metadata
	return (s.Name == "" || s.Name == m.Name) &&
		(s.Namespace == "" || s.Namespace == m.Namespace) &&
		(s.Cluster == "" || m.ClusterName == "" || s.Cluster == m.ClusterName) &&
		labelsMatch(s.Labels, m.Labels)
}
