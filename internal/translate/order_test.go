package translate

import (
	"bytes"
	"cmp"
	"slices"
	"testing"
)

func TestSortKeysGiveThePlanOrder(t *testing.T) {
	cases := []struct {
		name  string
		ids   []string
		files []string
	}{
		{"one file in id order", []string{"ns/a", "ns/b", "ns/c"}, []string{"x.yaml", "x.yaml", "x.yaml"}},
		{"one file out of id order", []string{"ns/c", "ns/a", "ns/b", "ns/a2"}, []string{"x.yaml", "x.yaml", "x.yaml", "x.yaml"}},
		{"several files", []string{"ns/z", "ns/a", "ns/m"}, []string{"a.yaml", "b/c.yaml", "b/c.yaml"}},
		{"objects from Kubernetes", []string{"a/x", "a-b/y", "b/z"}, []string{"kubernetes:ExternalService/a/x", "kubernetes:ExternalService/a-b/y", "kubernetes:ExternalService/b/z"}},
		{"files not in path order (keyed by position)", []string{"ns/a", "ns/b"}, []string{"b.yaml", "a.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{}
			for i, id := range c.ids {
				files[id] = sourceGroup(c.files[i], "")
			}
			keys := sortKeys(len(c.ids), func(i int) string { return c.ids[i] }, files)
			got := slices.Clone(c.ids)
			slices.SortFunc(got, func(a, b string) int { return cmp.Or(bytes.Compare(keys[a], keys[b]), cmp.Compare(a, b)) })
			if !slices.Equal(got, c.ids) {
				t.Errorf("sorted by key: %v, want the plan's order %v", got, c.ids)
			}
		})
	}
}
