package api

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// nestedAliases is a 16 KB AccessPolicy whose 2,000 authz entries are aliases to one with 2,000 paths:
// four million nodes once expanded (before the budget: 9 s and 650 MB to decode).
func nestedAliases(k int) string {
	paths := "&s /a" + strings.Repeat(", *s", k-1)
	return fmt.Sprintf(`apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata: {name: p, namespace: n}
spec:
  applyToDestinations: [{kind: EXTERNAL_SERVICE, selector: {name: s}}]
  config:
    authz: &z
      allowedClients: [{serviceAccountSelector: {name: a}}]
      allowedPaths: [%s]
    authzList: [*z%s]
`, paths, strings.Repeat(", *z", k-1))
}

// laughs is the classic: nine levels of ten aliases each.
func laughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: networking.gloo.solo.io/v2\nkind: VirtualDestination\nmetadata: {name: g}\nspec:\n  x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "  x%d: &x%d [*x%d%s]\n", i, i, i-1, strings.Repeat(fmt.Sprintf(", *x%d", i-1), 9))
	}
	return b.String()
}

func TestAliasExpansionIsBounded(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"aliases nested through the schema", nestedAliases(2000), "bomb.yaml:1: YAML aliases expand this file beyond 1000000 nodes"},
		{"a billion laughs in a kind egret does not read", laughs(), "bomb.yaml:11: the alias *x5 expands to more than 1000000 nodes"},
		{"an alias inside its own anchor", "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\nspec: &a {labels: *a}\n", "bomb.yaml:4: a YAML alias refers to a node that contains it"},
		{"a good document before the bomb is not used either", "apiVersion: egret.dev/v1alpha1\nkind: Workload\nmetadata: {name: w, namespace: n}\nspec: {serviceAccount: sa}\n---\n" + nestedAliases(2000), "beyond 1000000 nodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			objs, problems := Decode("bomb.yaml", []byte(tc.data))
			if took := time.Since(start); took > 500*time.Millisecond {
				t.Errorf("took %v, want well under a second", took)
			}
			if len(objs) != 0 || len(problems) != 1 || !strings.Contains(problems[0].Error(), tc.want) {
				t.Fatalf("got %d objects and %v, want only %q", len(objs), Problems(problems), tc.want)
			}
		})
	}
}

func TestModestAliasesStillDecode(t *testing.T) {
	objs, problems := Decode("ok.yaml", []byte(nestedAliases(100))) // 10,000 paths
	if len(problems) != 0 || len(objs) != 1 {
		t.Fatalf("a modest use of aliases: %v", Problems(problems))
	}
	if got := len(objs[0].(*AccessPolicy).Spec.Config.AuthzList); got != 100 {
		t.Errorf("authzList has %d entries, want 100", got)
	}
}
