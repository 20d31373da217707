package api

import (
	"slices"
	"strings"
	"testing"
)

const rtES = `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: a, namespace: web}
spec:
  hosts: [a.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS, clientsideTls: {}}]
---
`

// rt is a RouteTable in namespace web whose http list is routes (indented under "  http:").
func rt(routes string) string {
	return rtES + "apiVersion: networking.gloo.solo.io/v2\nkind: RouteTable\nmetadata: {name: rt, namespace: web}\nspec:\n  hosts: [api.example.com]\n  http:\n" + routes
}

func TestRouteTableRules(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "a valid route to an external service",
			yaml: rt("  - name: a\n    matchers: [{uri: {prefix: /a}, method: GET, headers: [{name: x-env, value: prod}]}]\n    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: a}, port: {number: 443}}]}\n"),
		},
		{
			name: "an omitted destination kind means SERVICE in Gloo",
			yaml: rt("  - forwardTo: {destinations: [{ref: {name: a}}]}\n"),
			want: []string{"v.yaml:14: RouteTable web/rt: spec.http[0].forwardTo.destinations[0].kind: Gloo's default destination kind is SERVICE, a Kubernetes Service, which egret does not route to: set kind: EXTERNAL_SERVICE (only forwardTo to EXTERNAL_SERVICE destinations)"},
		},
		{
			name: "a VIRTUAL_DESTINATION destination",
			yaml: rt("  - forwardTo: {destinations: [{kind: VIRTUAL_DESTINATION, ref: {name: a}}]}\n"),
			want: []string{"v.yaml:14: RouteTable web/rt: spec.http[0].forwardTo.destinations[0].kind: egret does not act on VIRTUAL_DESTINATION destinations: only forwardTo to EXTERNAL_SERVICE destinations"},
		},
		{
			name: "a delegate action",
			yaml: rt("  - name: d\n    delegate:\n      routeTables: [{labels: {a: b}}]\n"),
			want: []string{"v.yaml:15: RouteTable web/rt: spec.http[0].delegate: egret does not act on delegate: only forwardTo to EXTERNAL_SERVICE destinations"},
		},
		{
			name: "a redirect action",
			yaml: rt("  - redirect: {hostRedirect: b.example.com}\n"),
			want: []string{"v.yaml:14: RouteTable web/rt: spec.http[0].redirect: egret does not act on redirect: only forwardTo to EXTERNAL_SERVICE destinations"},
		},
		{
			name: "a direct response",
			yaml: rt("  - directResponse: {status: 418}\n"),
			want: []string{"v.yaml:14: RouteTable web/rt: spec.http[0].directResponse: egret does not act on directResponse: only forwardTo to EXTERNAL_SERVICE destinations"},
		},
		{
			name: "a path rewrite",
			yaml: rt("  - forwardTo:\n      pathRewrite: /x\n      destinations: [{kind: EXTERNAL_SERVICE, ref: {name: a}}]\n"),
			want: []string{"v.yaml:15: RouteTable web/rt: spec.http[0].forwardTo.pathRewrite: egret does not act on pathRewrite: only forwardTo to EXTERNAL_SERVICE destinations, without rewrites"},
		},
		{
			name: "query parameter matchers",
			yaml: rt("  - matchers: [{queryParameters: [{name: q, value: v}]}]\n    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: a}}]}\n"),
			want: []string{"v.yaml:14: RouteTable web/rt: spec.http[0].matchers[0].queryParameters: egret does not match query parameters yet: a matcher that ignored them would match more requests than written"},
		},
		{
			name: "a bad regex",
			yaml: rt("  - matchers: [{uri: {regex: '(a'}}]\n    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: a}}]}\n"),
			want: []string{"v.yaml:14: RouteTable web/rt: spec.http[0].matchers[0].uri.regex: not a valid RE2 regular expression: error parsing regexp: missing closing ): `(a`"},
		},
		{
			name: "weights over 100",
			yaml: rt("  - forwardTo:\n      destinations:\n      - {kind: EXTERNAL_SERVICE, ref: {name: a}, weight: 60}\n      - {kind: EXTERNAL_SERVICE, ref: {name: a}, weight: 50}\n"),
			want: []string{"v.yaml:15: RouteTable web/rt: spec.http[0].forwardTo.destinations: weights total 110; they must total 100"},
		},
		{
			name: "a missing external service and port",
			yaml: rt("  - forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: b}}, {kind: EXTERNAL_SERVICE, ref: {name: a}, port: {number: 80}}]}\n"),
			want: []string{
				"v.yaml:14: RouteTable web/rt: spec.http[0].forwardTo.destinations[0].ref: ExternalService web/b does not exist",
				"v.yaml:14: RouteTable web/rt: spec.http[0].forwardTo.destinations[1].port: ExternalService web/a has no port 80",
			},
		},
		{
			name: "TCP routes and a workload selector by name",
			yaml: rtES + "apiVersion: networking.gloo.solo.io/v2\nkind: RouteTable\nmetadata: {name: rt, namespace: web}\nspec:\n  hosts: [api.example.com]\n  workloadSelectors:\n  - selector: {name: x}\n  tcp:\n  - forwardTo: {destinations: [{ref: {name: a}}]}\n",
			want: []string{
				"v.yaml:14: RouteTable web/rt: spec.workloadSelectors[0].selector: only selector.labels may be set on a route table's workload selector (Gloo's rule)",
				"v.yaml:15: RouteTable web/rt: spec.tcp: egret does not act on TCP routes: only forwardTo to EXTERNAL_SERVICE destinations",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := validate(t, tt.yaml)
			slices.Sort(got)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestRouteWeights(t *testing.T) {
	d := func(ws ...uint32) []RouteDestination {
		var out []RouteDestination
		for _, w := range ws {
			out = append(out, RouteDestination{Weight: w})
		}
		return out
	}
	tests := []struct {
		name string
		in   []RouteDestination
		want []uint32
		err  bool
	}{
		{name: "one unweighted destination takes everything", in: d(0), want: []uint32{100}},
		{name: "the shortfall is spread over the unweighted", in: d(40, 0, 0), want: []uint32{40, 30, 30}},
		{name: "the remainder goes to the first unweighted", in: d(0, 0, 0), want: []uint32{34, 33, 33}},
		{name: "explicit weights totalling 100", in: d(25, 75), want: []uint32{25, 75}},
		{name: "a total under 100 with nothing unweighted", in: d(20, 30), err: true},
		{name: "100 with an unweighted one left", in: d(100, 0), err: true},
		{name: "less than 1 each for the unweighted", in: d(99, 0, 0), err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := RouteWeights(tt.in)
			if (msg != "") != tt.err || !slices.Equal(got, tt.want) {
				t.Errorf("got %v %q, want %v (error %v)", got, msg, tt.want, tt.err)
			}
		})
	}
}

func TestUnsupportedKindsAreReportedOnThemselves(t *testing.T) {
	y := `apiVersion: security.policy.gloo.solo.io/v2
kind: JWTPolicy
metadata: {name: jwt, namespace: web}
spec:
  applyToRoutes: [{route: {labels: {a: b}}}]
  config: {providers: {}}
---
apiVersion: resilience.policy.gloo.solo.io/v2
kind: RetryTimeoutPolicy
metadata: {name: retry, namespace: web}
spec: {config: {retries: {attempts: 3}}}
---
apiVersion: example.com/v1
kind: Frobnicator
metadata: {name: f, namespace: web}
---
` + rtES
	objs, problems := Decode("v.yaml", []byte(y))
	if len(problems) != 1 || !strings.HasPrefix(problems[0].Error(), `v.yaml:14: Frobnicator web/f: kind: unknown kind "Frobnicator"`) {
		t.Fatalf("decode problems: want one on the unknown kind only, got %v", Problems(problems))
	}
	if len(objs) != 3 {
		t.Fatalf("decoded %d objects, want the two unsupported ones and the ExternalService", len(objs))
	}
	s := &Snapshot{}
	for _, o := range objs {
		SetDefaults(o)
		s.Add(o)
	}
	ps := Validate(s)
	var got []string
	for _, p := range ps {
		got = append(got, p.Error())
	}
	want := []string{
		"v.yaml:2: JWTPolicy web/jwt: kind: egret does not implement JWTPolicy; it is ignored, and the rest of the set still applies. It would restrict requests: ignored, it refuses nothing, so callers it was meant to stop get through unless an AccessPolicy stops them",
		"v.yaml:9: RetryTimeoutPolicy web/retry: kind: egret does not implement RetryTimeoutPolicy; it is ignored, and the rest of the set still applies",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ps.Errors()) != 2 || len(ps.Blocking()) != 0 {
		t.Errorf("unsupported kinds are errors (%d) that block nothing (%d blocking)", len(ps.Errors()), len(ps.Blocking()))
	}
}

func TestUnsupportedKindNeedsItsGroup(t *testing.T) {
	_, problems := Decode("v.yaml", []byte("apiVersion: example.com/v1\nkind: JWTPolicy\nmetadata: {name: j}\n"))
	if len(problems) != 1 || !strings.Contains(problems[0].Message, `unknown kind "JWTPolicy"`) {
		t.Errorf("a JWTPolicy outside Gloo's group is an unknown kind, got %v", Problems(problems))
	}
}
