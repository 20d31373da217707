package xds

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"egret.dev/egret/internal/ir"
	"egret.dev/egret/internal/source/file"
	"egret.dev/egret/internal/translate"
)

// edits are textual changes a random edit applies to one document, each undone by its reverse: they
// touch every kind of dependency (mesh settings, gateway listeners and what they expose, service hosts
// and ports, workload labels and identities, policy selectors, clients and rules, clusters,
// namespaces, workspaces).
var edits = [][2]string{
	{"REGISTRY_ONLY", "ALLOW_ANY"},
	{"www.google.com", "www.google.org"},
	{"bookinfo-productpage", "bookinfo-ratings"},
	{"app: reviews", "app: ratings"},
	{"number: 443", "number: 8443"},
	{"cluster1", "cluster2"},
	{"namespace: bookinfo", "namespace: other"},
	{"portMatch: 80", "portMatch: 8080"},
	{"name: istio-egressgateway", "name: second-gateway"},
	{"HTTPS", "HTTP"},
	{"importFrom", "exportTo"},
	{"namespace: apps", "namespace: app"},
	{"name: egress", "name: egress2"},
	{"name: web", "name: api"},
	{"dryRun: true", "dryRun: false"},
	{"GET", "POST"},
}

// TestIncrementalMatchesFromScratch edits a directory at random (documents added, removed, moved
// between files, copied (duplicates are invalid), edited) and checks after every step that translating with a translate.Memo gives what
// Translate gives, and that a delta server fed every step serves byte for byte what a fresh one serves
// for the last: the per-object reuse changes nothing but the cost.
func TestIncrementalMatchesFromScratch(t *testing.T) {
	cases, _ := filepath.Glob("../translate/testdata/*.in.yaml")
	if len(cases) == 0 {
		t.Fatal("no translate golden cases found")
	}
	sep := regexp.MustCompile(`(?m)^---\s*$`)
	files := []string{"a.yaml", "b.yaml", "sub/c.yaml"}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(c), ".in.yaml"), func(t *testing.T) {
			data, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			var docs []string
			for _, d := range sep.Split(string(data), -1) {
				if strings.TrimSpace(d) != "" {
					docs = append(docs, d)
				}
			}
			rng := rand.New(rand.NewPCG(uint64(len(data)), 15))
			where := make([]int, len(docs)) // the file of each document, -1 when left out
			for i := range where {
				where[i] = rng.IntN(len(files))
			}
			dir := t.TempDir()
			src := file.NewDir(dir, file.Options{})
			var memo translate.Memo
			inc := NewDeltaServer(nil)
			for step := range 60 {
				if step > 0 {
					i := rng.IntN(len(docs))
					switch rng.IntN(5) {
					case 0:
						where[i] = -1
					case 1:
						where[i] = rng.IntN(len(files))
					case 2: // a copy elsewhere: the same name twice, so both become invalid
						docs = append(docs, docs[i])
						where = append(where, rng.IntN(len(files)))
					default:
						e := edits[rng.IntN(len(edits))]
						if rng.IntN(2) == 0 {
							e[0], e[1] = e[1], e[0]
						}
						docs[i] = strings.ReplaceAll(docs[i], e[0], e[1])
					}
				}
				for fi, name := range files {
					var b strings.Builder
					for i, d := range docs {
						if where[i] == fi {
							b.WriteString("---\n" + d)
						}
					}
					p := filepath.Join(dir, name)
					_ = os.MkdirAll(filepath.Dir(p), 0o755)
					if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				snap, _ := src.Load(context.Background())
				src.Commit()
				want := translate.Translate(snap)
				got := memo.Translate(snap)
				if d := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(ir.Plan{})); d != "" {
					t.Fatalf("step %d: translated with the memo (+) differs from Translate (-):\n%s", step, d)
				}
				if err := inc.Update(got.Plan, nil); err != nil {
					continue // a plan the server refuses (checked alike below)
				}
				fresh := NewDeltaServer(nil)
				if err := fresh.Update(want.Plan, nil); err != nil {
					t.Fatalf("step %d: a fresh server refuses the plan the incremental one took: %v", step, err)
				}
				a, b := encoded(inc), encoded(fresh)
				for _, k := range slices.Sorted(mapsKeys(a, b)) {
					if a[k] != b[k] {
						t.Fatalf("step %d: %s: the incremental server serves %q, a fresh one %q", step, k, short(a[k]), short(b[k]))
					}
				}
			}
		})
	}
}

func mapsKeys(ms ...map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s… (%d bytes)", s[:80], len(s))
	}
	return s
}
