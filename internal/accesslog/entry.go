// Package accesslog writes egret's one canonical line per HTTP request or TLS/TCP connection, as JSON or in Istio's TEXT format.
package accesslog

import "time"

// Entry is everything egret records about one HTTP request or one TLS/TCP
// connection. Empty strings are printed as null (JSON) or "-" (TEXT).
//
// Path must never carry the query string: secrets (tokens, signatures) live
// there. The encoders strip anything from the first '?' or '#' anyway, so a
// caller that passes a raw request target cannot leak it.
type Entry struct {
	StartTime time.Time
	Component string // ComponentGateway or ComponentSidecar

	SourceIdentity         string // SPIFFE ID from the verified peer certificate
	SourceAddress          string // downstream remote address, ip:port
	DownstreamLocalAddress string // the listener address that accepted it

	Authority string // HTTP :authority / Host, or CONNECT host:port
	SNI       string // requested server name
	Method    string // empty for TLS/TCP connections
	Path      string // without query string (see above)
	Protocol  string // "HTTP/1.1", "HTTP/2", or empty for TLS/TCP

	Status              int    // HTTP status; 0 for TLS/TCP connections
	ResponseFlags       []Flag // see flags.go
	ResponseCodeDetails string // Envoy-style, e.g. "via_upstream", RBACDetails(policy)

	Decision Decision
	Reason   string // why the decision was taken; required for denials
	Policy   string // the policy that decided, if any
	DeniedBy string // who denied it when the decision is deny: DeniedByGateway in a sidecar's line for a
	// call its gateway refused; empty means the component writing the line

	UpstreamHost                   string // ip:port dialled
	UpstreamCluster                string // e.g. "outbound|443||httpbin.org"
	UpstreamLocalAddress           string
	UpstreamTransportFailureReason string // e.g. origination.Describe(err)
	ConnectionTerminationDetails   string

	BytesReceived int64 // from downstream
	BytesSent     int64 // to downstream

	Duration            time.Duration // whole request or connection
	UpstreamServiceTime time.Duration // 0 means not measured and prints as null / "-"

	RequestID     string
	UserAgent     string
	XForwardedFor string
	RouteName     string
}

// Decision is the policy outcome recorded in the log.
type Decision string

// Decisions.
const (
	DecisionAllow      Decision = "allow"
	DecisionDeny       Decision = "deny"
	DecisionDryRunDeny Decision = "dryrun-deny" // would have been denied; let through in dry-run mode
)

// Components.
const (
	ComponentGateway = "gateway"
	ComponentSidecar = "sidecar"
)

// JSON keys. They follow Istio's JSON access log keys where Istio has the
// field, so existing dashboards and queries keep working; egret's own
// additions (identity, decision) use the same snake_case style.
const (
	FieldStartTime                      = "start_time"
	FieldComponent                      = "component"
	FieldSourceIdentity                 = "source_identity"
	FieldDownstreamRemoteAddress        = "downstream_remote_address"
	FieldDownstreamLocalAddress         = "downstream_local_address"
	FieldAuthority                      = "authority"
	FieldRequestedServerName            = "requested_server_name"
	FieldMethod                         = "method"
	FieldPath                           = "path"
	FieldProtocol                       = "protocol"
	FieldResponseCode                   = "response_code"
	FieldResponseFlags                  = "response_flags"
	FieldResponseCodeDetails            = "response_code_details"
	FieldDecision                       = "decision"
	FieldPolicy                         = "policy"
	FieldReason                         = "reason"
	FieldUpstreamHost                   = "upstream_host"
	FieldUpstreamCluster                = "upstream_cluster"
	FieldUpstreamLocalAddress           = "upstream_local_address"
	FieldUpstreamTransportFailureReason = "upstream_transport_failure_reason"
	FieldConnectionTerminationDetails   = "connection_termination_details"
	FieldBytesReceived                  = "bytes_received"
	FieldBytesSent                      = "bytes_sent"
	FieldDuration                       = "duration" // milliseconds
	FieldUpstreamServiceTime            = "upstream_service_time"
	FieldRequestID                      = "request_id"
	FieldUserAgent                      = "user_agent"
	FieldXForwardedFor                  = "x_forwarded_for"
	FieldRouteName                      = "route_name"
	FieldDeniedBy                       = "denied_by" // "gateway" or "sidecar" when the decision is deny
)

// stripQuery cuts the query string and fragment off a path.
func stripQuery(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '?' || p[i] == '#' {
			return p[:i]
		}
	}
	return p
}
