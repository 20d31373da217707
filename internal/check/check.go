// Package check answers egret check's question offline: may this caller reach this host, port, method
// and path, and by which route? It asks the plan the same decision the proxies make.
package check

import (
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"egret.dev/egret/internal/ir"
)

// Decider is what check needs from a plan: the same decision the proxies make.
type Decider interface {
	Decide(ir.Request) ir.Decision
}

var _ Decider = (*ir.Plan)(nil)

// Query is the question as egret check's flags give it.
type Query struct {
	From    string   // caller's SPIFFE ID, if given
	Cluster string   // caller's cluster, if given
	To      string   // URL or host:port
	Method  string   // HTTP method
	Path    string   // HTTP path; default the URL's, else /
	Headers []string // "Name: value"
	Opaque  bool     // a TLS or TCP stream
}

// Request builds the request, except the source of a caller named by its Workload (see Workload).
func (q Query) Request() (ir.Request, error) {
	r := ir.Request{Cluster: q.Cluster, Method: strings.ToUpper(q.Method), Opaque: q.Opaque}
	if q.From != "" {
		id, err := ir.ParseSpiffeID(q.From)
		if err != nil {
			return r, fmt.Errorf("--from: %w", err)
		}
		r.Source = id
	}
	host, port, path, opaque, err := ParseTarget(q.To)
	if err != nil {
		return r, fmt.Errorf("--to: %w", err)
	}
	r.Host, r.Port, r.Path = host, port, path
	r.Opaque = r.Opaque || opaque
	if q.Path != "" {
		r.Path = q.Path
	}
	if r.Path == "" {
		r.Path = "/"
	}
	if r.Opaque {
		r.Method, r.Path = "", ""
	}
	if len(q.Headers) > 0 {
		h := http.Header{}
		for _, kv := range q.Headers {
			k, v, ok := strings.Cut(kv, ":")
			if !ok || strings.TrimSpace(k) == "" {
				return r, fmt.Errorf("-H %q: want 'Name: value'", kv)
			}
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		r.Headers = func(name string) []string { return h.Values(textproto.CanonicalMIMEHeaderKey(name)) }
	}
	return r, nil
}

// ParseTarget reads a URL (http → 80, https → 443 and opaque, explicit port wins) or host:port.
func ParseTarget(to string) (host string, port uint32, path string, opaque bool, err error) {
	if strings.Contains(to, "://") {
		u, err := url.Parse(to)
		if err != nil {
			return "", 0, "", false, err
		}
		switch u.Scheme {
		case "http":
			port = 80
		case "https":
			port, opaque = 443, true
		default:
			return "", 0, "", false, fmt.Errorf("scheme %q: want http or https (or give host:port)", u.Scheme)
		}
		if p := u.Port(); p != "" {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return "", 0, "", false, fmt.Errorf("port %q: want 1-65535", p)
			}
			port = uint32(n)
		}
		if u.Hostname() == "" {
			return "", 0, "", false, fmt.Errorf("%q has no host", to)
		}
		path = u.EscapedPath()
		if u.RawQuery != "" {
			path += "?" + u.RawQuery
		}
		return u.Hostname(), port, path, opaque, nil
	}
	h, p, err := net.SplitHostPort(to)
	if err != nil {
		return "", 0, "", false, fmt.Errorf("%q: want a URL or host:port", to)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 || h == "" {
		return "", 0, "", false, fmt.Errorf("%q: want a URL or host:port with a port 1-65535", to)
	}
	return h, uint32(n), "", false, nil
}

// Workload makes the Workload ns/name the caller: its identity, and its cluster unless r names one.
func Workload(plan *ir.Plan, r *ir.Request, ns, name string) error {
	w := findWorkload(plan, ns, name)
	if w == nil {
		return fmt.Errorf("--from-workload: no Workload %s/%s in the input", ns, name)
	}
	r.Source = w.Identity
	if r.Cluster == "" {
		r.Cluster = w.Cluster
	}
	return nil
}

func findWorkload(plan *ir.Plan, ns, name string) *ir.Workload {
	for i := range plan.Workloads {
		if w := &plan.Workloads[i]; w.Namespace == ns && w.Name == name {
			return w
		}
	}
	return nil
}

// Decide is the decision for r; when a gateway RouteTable leaves the choice of service to the gateway,
// the sidecar only forwards, so it is the gateway's decision.
func Decide(dec Decider, r ir.Request) ir.Decision {
	d := dec.Decide(r)
	if gd, ok := atGateway(dec, r, d); ok {
		return gd
	}
	return d
}

// atGateway asks the decision again as the first gateway would, when a gateway RouteTable leaves the
// choice of service to the gateway; ok is false otherwise.
func atGateway(dec Decider, r ir.Request, d ir.Decision) (ir.Decision, bool) {
	if d.Kind != ir.KindRouted || d.Service != "" || d.RouteTable == "" || len(d.Targets) == 0 {
		return ir.Decision{}, false
	}
	r.Gateway = d.Targets[0].GatewayID
	return dec.Decide(r), true
}
