package accesslog

import (
	"errors"
	"fmt"
	"testing"
)

type attemptsErr int

func (a attemptsErr) Error() string { return fmt.Sprintf("%d attempts failed", int(a)) }
func (a attemptsErr) Attempts() int { return int(a) }

func TestLocalReplyKeepsThePolicyDecision(t *testing.T) {
	tests := []struct {
		name   string
		before Decision
		status int
		flag   Flag
		want   Decision
	}{
		{"an allowed call whose upstream refused the connection", DecisionAllow, 503, FlagUpstreamConnFailure, DecisionAllow},
		{"an allowed call whose failover was exhausted", DecisionAllow, 503, FlagUpstreamRetryLimit, DecisionAllow},
		{"an allowed call that timed out", DecisionAllow, 504, FlagUpstreamTimeout, DecisionAllow},
		{"a dry-run denial whose upstream failed", DecisionDryRunDeny, 503, FlagUpstreamConnFailure, DecisionDryRunDeny},
		{"a policy refusal", DecisionAllow, 403, FlagPolicyDenied, DecisionDeny},
		{"a call refused before any decision", "", 400, FlagDownstreamProtocolError, DecisionDeny},
		{"an unregistered host", DecisionDeny, 502, FlagNoRoute, DecisionDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Entry{Decision: tc.before, Policy: "bookinfo/p"}
			e.LocalReply(tc.status, tc.flag)
			if e.Decision != tc.want || e.Status != tc.status || len(e.ResponseFlags) != 1 || e.ResponseFlags[0] != tc.flag {
				t.Errorf("got decision %q status %d flags %v, want %q %d %s", e.Decision, e.Status, e.ResponseFlags, tc.want, tc.status, tc.flag)
			}
		})
	}
}

func TestUpstreamFailureTellsUFFromURX(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Flag
	}{
		{"a plain dial error", errors.New("connection refused"), FlagUpstreamConnFailure},
		{"one upstream tried", attemptsErr(1), FlagUpstreamConnFailure},
		{"three upstreams tried, wrapped", fmt.Errorf("upstream: %w", attemptsErr(3)), FlagUpstreamRetryLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := UpstreamFailure(tc.err); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
