package ir

import (
	"encoding/json"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "anything", true},
		{"app", "app", true},
		{"app", "app2", false},
		{"team-*", "team-a", true},
		{"team-*", "team-", true},
		{"team-*", "xteam-a", false},
		{"*-prod", "web-prod", true},
		{"*-prod", "web-prod-2", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.s, func(t *testing.T) {
			if got := GlobMatch(tc.pattern, tc.s); got != tc.want {
				t.Errorf("GlobMatch(%q, %q) = %v", tc.pattern, tc.s, got)
			}
		})
	}
}

// Visibility travels to proxies as JSON: a decoded plan must hide what the original hides.
func TestWorkspacesSurviveSerialization(t *testing.T) {
	p := samplePlan()
	p.Workspaces = []Workspace{
		{Name: "bookinfo", Members: []WorkspaceMember{{Cluster: "*", Namespace: "bookinfo"}}},
		{Name: "other", Members: []WorkspaceMember{{Cluster: "cluster1", Namespace: "other"}}},
	}
	for i := range p.Services {
		p.Services[i].Visibility = []Visibility{{Workspace: "bookinfo"}}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Compile()
	other := NewSpiffeID("cluster1", "other", "bookinfo-productpage")
	if d := back.Decide(Request{Source: other, Host: "www.google.com", Port: 80, Method: "GET", Path: "/"}); d.Kind != KindNotInRegistry || d.Workspace != "other" {
		t.Errorf("other workspace: %s in %q: %s", d.Kind, d.Workspace, d.Reason)
	}
	pp := NewSpiffeID("cluster1", "bookinfo", "bookinfo-productpage")
	if d := back.Decide(Request{Source: pp, Host: "www.google.com", Port: 80, Method: "GET", Path: "/"}); d.Kind != KindRouted || d.Visibility != "visible: service in workspace bookinfo, the caller's" {
		t.Errorf("own workspace: %s, %q: %s", d.Kind, d.Visibility, d.Reason)
	}
}
