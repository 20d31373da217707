package translate

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// selectedEndpoints are the valid ExternalEndpoints whose labels carry the service's selector (an empty
// selector selects none), in the service's cluster when it has one.
func (t *translator) selectedEndpoints(es *api.ExternalService) []*api.ExternalEndpoint {
	if len(es.Spec.Selector) == 0 {
		return nil
	}
	var out []*api.ExternalEndpoint
	for _, ee := range t.snap.ExternalEndpoints {
		if !t.valid(ee) || !labelsMatch(es.Spec.Selector, ee.Metadata.Labels) {
			continue
		}
		if es.Metadata.ClusterName != "" && !inCluster(ee, es.Metadata.ClusterName) {
			continue
		}
		out = append(out, ee)
	}
	return out
}

// portEndpoints resolves where service port pi is dialled: each selected endpoint's address on the endpoint
// port the targetPort names (by name, or by number; no targetPort means the port's own number). An
// endpoint without that port is skipped with a warning; an endpoint that lists no ports at all is dialled
// on a numeric target. It returns the endpoints and, when the service selects endpoints but none is left,
// why (the port's calls then get 503).
func (t *translator) portEndpoints(es *api.ExternalService, pi int, selected []*api.ExternalEndpoint) ([]ir.UpstreamEndpoint, string) {
	if len(es.Spec.Selector) == 0 {
		return nil, ""
	}
	p := es.Spec.Ports[pi]
	name, number := "", p.Number
	if tp := p.TargetPort; tp != nil {
		if tp.Name != "" {
			name = tp.Name
		} else if tp.Number != 0 {
			number = tp.Number
		}
	}
	portName := "" // no targetPort (defaulted to the number): an endpoint port of the service port's name serves too
	if name == "" && number == p.Number {
		portName = p.Name
	}
	want := strconv.FormatUint(uint64(number), 10)
	if name != "" {
		want = fmt.Sprintf("named %q", name)
	}
	path := fmt.Sprintf("spec.ports[%d]", pi)
	if name != "" || number != p.Number {
		path += ".targetPort"
	}
	var out []ir.UpstreamEndpoint
	for _, ee := range selected {
		n, ok := endpointPort(ee, name, number, portName)
		if !ok {
			t.warn(es, path, "%s has no port %s (its ports: %s); endpoint skipped for port %d",
				api.Ref(ee), want, portList(ee), p.Number)
			continue
		}
		out = append(out, ir.UpstreamEndpoint{
			Address:        net.JoinHostPort(ee.Spec.Address, strconv.FormatUint(uint64(n), 10)),
			Endpoint:       ee.Metadata.Namespace + "/" + ee.Metadata.Name,
			AllowLinkLocal: allowLinkLocal(ee),
		})
	}
	if len(out) > 0 {
		return out, ""
	}
	svc := fmt.Sprintf("ExternalService %s", serviceID(es))
	if len(selected) == 0 {
		// Warned once for the whole service, on spec.selector.
		return nil, fmt.Sprintf("%s selects no ExternalEndpoint (selector %s)", svc, selectorString(es.Spec.Selector))
	}
	why := fmt.Sprintf("%s selects no ExternalEndpoint with port %s for port %d (selector %s)", svc, want, p.Number, selectorString(es.Spec.Selector))
	t.warn(es, path, "no selected ExternalEndpoint has port %s; calls to port %d get 503", want, p.Number)
	return nil, why
}

// endpointPort finds the port number of ee that a target names: the port called name, or else the port
// numbered number. With no targetPort (portName set), an endpoint port named like the service port also
// serves, as Istio maps a ServiceEntry endpoint's ports by the service port's name.
func endpointPort(ee *api.ExternalEndpoint, name string, number uint32, portName string) (uint32, bool) {
	if name == "" && len(ee.Spec.Ports) == 0 {
		return number, true
	}
	for _, ep := range ee.Spec.Ports {
		if (name != "" && ep.Name == name) || (name == "" && ep.Number == number) {
			return ep.Number, true
		}
	}
	if portName != "" {
		for _, ep := range ee.Spec.Ports {
			if ep.Name == portName {
				return ep.Number, true
			}
		}
	}
	return 0, false
}

// allowLinkLocal reads the endpoint's opt-in to a link-local or metadata address.
func allowLinkLocal(ee *api.ExternalEndpoint) bool {
	return ee.Metadata.Annotations[api.AnnotationAllowLinkLocal] == "true"
}

func portList(ee *api.ExternalEndpoint) string {
	if len(ee.Spec.Ports) == 0 {
		return "none"
	}
	var parts []string
	for _, p := range ee.Spec.Ports {
		if p.Name != "" {
			parts = append(parts, fmt.Sprintf("%s=%d", p.Name, p.Number))
		} else {
			parts = append(parts, strconv.FormatUint(uint64(p.Number), 10))
		}
	}
	return strings.Join(parts, ", ")
}

func selectorString(sel map[string]string) string {
	parts := make([]string, 0, len(sel))
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
