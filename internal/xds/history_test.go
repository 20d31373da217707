package xds

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

// example is the seed scenario's resources (meshtest.Example; meshtest imports this package).
const example = "../../examples/bookinfo-egress"

// exampleDir writes the example mesh and files (name → contents; "" removes the file) into dir.
func exampleDir(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	ex, err := os.ReadDir(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		b, err := os.ReadFile(filepath.Join(example, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if data == "" {
			_ = os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dirPlan translates what d reads now.
func dirPlan(t testing.TB, d *file.Dir) *ir.Plan {
	t.Helper()
	snap, err := d.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.Commit()
	res := translate.Translate(snap)
	if res.Invalid() {
		t.Fatalf("invalid input: %v", res.Problems())
	}
	return res.Plan
}

func historyService(name string) string {
	return fmt.Sprintf(`---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata:
  name: %[1]s
  namespace: bookinfo
spec:
  hosts:
  - %[1]s.example.com
  ports:
  - name: https
    number: 443
    protocol: HTTPS
    egressGatewayRoutes:
      virtualGatewayRefs:
      - name: istio-egressgateway
        namespace: bookinfo
`, name)
}

func historyPolicy(name, service string) string {
	return fmt.Sprintf(`---
apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata:
  name: %s
  namespace: bookinfo
spec:
  applyToDestinations:
  - kind: EXTERNAL_SERVICE
    selector:
      name: %s
      namespace: bookinfo
  config:
    authz:
      allowedClients:
      - serviceAccountSelector:
          name: bookinfo-productpage
`, name, service)
}

// encoded is every resource a server holds, by cache, type and name: its version and encoding.
func encoded(d *DeltaServer) map[string]string {
	out := map[string]string{}
	add := func(cache string, c *deltaCache) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for name, r := range c.res {
			out[cache+" "+c.typ+" "+name] = r.version + " " + string(r.wire.Resource.Value)
		}
	}
	for _, c := range d.sidecars {
		add("sidecars", c)
	}
	for id, cs := range d.gateways {
		for _, c := range cs {
			add(id, c)
		}
	}
	return out
}

// changedAtLastUpdate counts the resources of typ the sidecars' cache changed at its last update.
func changedAtLastUpdate(d *DeltaServer, typ string) int {
	c := d.sidecars[typ]
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ch := range c.log {
		if ch.gen == c.gen {
			n++
		}
	}
	return n
}

// TestVersionsDoNotDependOnHistory: two control planes on one directory serve byte-identical resources
// and versions, whatever edits each of them saw before, and one inserted service is one resource.
func TestVersionsDoNotDependOnHistory(t *testing.T) {
	// The directory's states: files of services and policies, edited by insertions in front, in the
	// middle, at the end, in new files sorting first and last, in a subdirectory, and removals.
	svcs := func(names ...string) string {
		var b strings.Builder
		for _, n := range names {
			b.WriteString(historyService(n))
		}
		return b.String()
	}
	pols := func(names ...string) string {
		var b strings.Builder
		for _, n := range names {
			b.WriteString(historyPolicy("p-"+n, n))
		}
		return b.String()
	}
	states := []map[string]string{
		{"10-svc.yaml": svcs("b", "d", "f"), "20-pol.yaml": pols("b", "d", "f")},
		{"10-svc.yaml": svcs("b", "c", "d", "f"), "20-pol.yaml": pols("b", "c", "d", "f")},
		{"00-first.yaml": svcs("z"), "10-svc.yaml": svcs("a", "b", "c", "d", "f")},
		{"00-first.yaml": "", "10-svc.yaml": svcs("b", "c", "f", "e"), "sub/11.yaml": svcs("y", "x")},
		{"10-svc.yaml": svcs("b", "c", "d", "f", "e"), "99-last.yaml": svcs("q") + pols("q"), "20-pol.yaml": pols("f", "b")},
	}
	final := map[string]string{}
	for _, s := range states {
		maps.Copy(final, s)
	}
	for k, v := range final {
		if v == "" {
			delete(final, k)
		}
	}

	// Every order of the states (and a few random subsets) ends at the final directory.
	rng := rand.New(rand.NewPCG(1, 2))
	var histories [][]int
	for range 6 {
		h := rng.Perm(len(states))[:1+rng.IntN(len(states))]
		histories = append(histories, h)
	}
	histories = append(histories, nil, []int{0, 1, 2, 3, 4})

	fresh := NewDeltaServer(nil)
	dir := t.TempDir()
	exampleDir(t, dir, final)
	if err := fresh.Update(dirPlan(t, file.NewDir(dir, file.Options{})), nil); err != nil {
		t.Fatal(err)
	}
	want := encoded(fresh)
	for _, h := range histories {
		t.Run(fmt.Sprintf("after states %v", h), func(t *testing.T) {
			dir := t.TempDir()
			d := file.NewDir(dir, file.Options{})
			srv := NewDeltaServer(nil)
			exampleDir(t, dir, nil)
			for _, i := range h {
				exampleDir(t, dir, clearedBy(states, states[i]))
				if err := srv.Update(dirPlan(t, d), nil); err != nil {
					t.Fatal(err)
				}
			}
			exampleDir(t, dir, clearedBy(states, final))
			if err := srv.Update(dirPlan(t, d), nil); err != nil {
				t.Fatal(err)
			}
			got := encoded(srv)
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if got[k] != want[k] {
					t.Errorf("%s differs from a control plane started on the final directory", k)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s is not served by a control plane started on the final directory", k)
				}
			}
			for _, id := range []string{"spiffe://cluster1/ns/bookinfo/sa/bookinfo-productpage", "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"} {
				a, _ := srv.VersionFor(id)
				b, _ := fresh.VersionFor(id)
				if a != b {
					t.Errorf("%s: version %s, a fresh control plane serves %s", id, a, b)
				}
			}
		})
	}

	insertions := []struct {
		name        string
		before, add map[string]string
	}{
		{"a service in a new file that sorts first", map[string]string{"10-svc.yaml": svcs("b", "d", "f")}, map[string]string{"00-new.yaml": svcs("zz")}},
		{"a service in a new file that sorts last", map[string]string{"10-svc.yaml": svcs("b", "d", "f")}, map[string]string{"99-new.yaml": svcs("a")}},
		{"a service in id order in the middle of a file", map[string]string{"10-svc.yaml": svcs("b", "d", "f")}, map[string]string{"10-svc.yaml": svcs("b", "c", "d", "f")}},
		{"a service in front of a file", map[string]string{"10-svc.yaml": svcs("b", "d", "f")}, map[string]string{"10-svc.yaml": svcs("a", "b", "d", "f")}},
		{"a service at the end of a file", map[string]string{"10-svc.yaml": svcs("b", "d", "f")}, map[string]string{"10-svc.yaml": svcs("b", "d", "f", "g")}},
	}
	for _, c := range insertions {
		t.Run("one resource for "+c.name, func(t *testing.T) {
			dir := t.TempDir()
			d := file.NewDir(dir, file.Options{})
			srv := NewDeltaServer(nil)
			exampleDir(t, dir, c.before)
			if err := srv.Update(dirPlan(t, d), nil); err != nil {
				t.Fatal(err)
			}
			exampleDir(t, dir, c.add)
			if err := srv.Update(dirPlan(t, d), nil); err != nil {
				t.Fatal(err)
			}
			if n := changedAtLastUpdate(srv, TypeExternalService); n != 1 {
				t.Errorf("%d ExternalService resources changed, want 1", n)
			}
		})
	}
}

// clearedBy is files with every file named in any of states and not in files marked for removal.
func clearedBy(states []map[string]string, files map[string]string) map[string]string {
	out := maps.Clone(files)
	for _, s := range states {
		for name := range s {
			if _, ok := out[name]; !ok {
				out[name] = ""
			}
		}
	}
	return out
}

// For the external tests (package xds_test).
var (
	ExampleDir = exampleDir
	DirPlan    = dirPlan
)
