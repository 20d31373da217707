package accesslog

import "errors"

// Flag is an Envoy-style response flag. egret uses Envoy's name wherever
// Envoy has one for the same condition, so Istio users read them unchanged.
//
//	Flag  Meaning in egret                                        Envoy
//	NR    no route: host:port not exposed / unknown under          NR
//	      REGISTRY_ONLY
//	UF    upstream connection failure, including TLS origination   UF
//	      failures (the failed check goes in
//	      UpstreamTransportFailureReason)
//	URX   every upstream tried failed to connect (failover over    URX
//	      several gateways or endpoints exhausted)
//	UT    upstream request timeout                                  UT
//	UO    overload: connection or request limit reached             UO
//	UH    no healthy upstream (every gateway/endpoint failed)       UH
//	UC    upstream closed the connection mid-request                UC
//	DC    downstream closed the connection mid-request              DC
//	DF    DNS resolution failed, or refused by the SSRF guard       DF
//	DPE   downstream protocol error (malformed request or           DPE
//	      ClientHello, SNI different from the CONNECT host)
//	RBAC  denied by egret policy (Envoy's RBAC filter sets no       (none)
//	      flag; it only sets rbac_access_denied_matched_policy[..]
//	      in response_code_details, see RBACDetails)
type Flag string

// Response flags.
const (
	FlagNoRoute                 Flag = "NR"
	FlagUpstreamConnFailure     Flag = "UF"
	FlagUpstreamRetryLimit      Flag = "URX"
	FlagUpstreamTimeout         Flag = "UT"
	FlagOverflow                Flag = "UO"
	FlagNoHealthyUpstream       Flag = "UH"
	FlagUpstreamTermination     Flag = "UC"
	FlagDownstreamTermination   Flag = "DC"
	FlagDNSFailure              Flag = "DF"
	FlagDownstreamProtocolError Flag = "DPE"
	FlagPolicyDenied            Flag = "RBAC"
)

// RBACDetails is the response_code_details Envoy's RBAC filter writes for a
// denial, so the TEXT format (which has no decision or policy column) still
// names the policy.
func RBACDetails(policy string) string {
	if policy == "" {
		policy = "none"
	}
	return "rbac_access_denied_matched_policy[" + policy + "]"
}

// LocalReply records an answer the proxy gave itself instead of the upstream's. The decision stays the
// policy's: a call the policy allowed is logged "allow" whatever happened after it (an upstream that
// could not be reached is UF or URX, not a deny). Only a policy refusal (RBAC), or a call refused before
// any decision was reached (malformed, overloaded), is logged "deny".
func (e *Entry) LocalReply(status int, flag Flag) {
	e.Status = status
	e.ResponseFlags = []Flag{flag}
	switch {
	case flag == FlagPolicyDenied:
		e.Decision = DecisionDeny
		e.ResponseCodeDetails = RBACDetails(e.Policy)
	case e.Decision == "":
		e.Decision = DecisionDeny
	}
}

// UpstreamFailure is the flag for an allowed call whose upstream could not be reached: URX when err
// says (with an Attempts() int method) that failover over several upstreams was tried and exhausted,
// else UF.
func UpstreamFailure(err error) Flag {
	var a interface{ Attempts() int }
	if errors.As(err, &a) && a.Attempts() > 1 {
		return FlagUpstreamRetryLimit
	}
	return FlagUpstreamConnFailure
}
