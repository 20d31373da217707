package cli

import (
	"fmt"
	"strings"

	"egret.dev/egret/internal/ir"
)

// upstreamText is where a service port's calls go: host:port, followed by the ExternalEndpoints dialled
// instead of the host's own addresses when the service selects any.
func upstreamText(host ir.HostPattern, sp *ir.ServicePort) string {
	s := fmt.Sprintf("%s:%d", host, upstreamPort(sp))
	switch {
	case sp == nil:
	case sp.NoEndpoints != "":
		s += " endpoints=none (calls get 503)"
	case len(sp.Endpoints) > 0:
		s += " endpoints=" + strings.Join(ir.EndpointAddresses(sp.Endpoints), ",")
	}
	return s
}

// endpointsText is the decision's ExternalEndpoints for `egret check`, or "" when the host is dialled itself.
func endpointsText(d ir.Decision) string {
	if d.Kind == ir.KindNoEndpoints {
		return "none (the service selects ExternalEndpoints and none serves this port)"
	}
	return strings.Join(ir.EndpointAddresses(d.Endpoints), ", ")
}
