package xds

import (
	"slices"
	"testing"
)

func TestOrderKeys(t *testing.T) {
	ids := func(n int, prefix string) []string {
		var out []string
		for i := range n {
			out = append(out, prefix+string(rune('a'+i)))
		}
		return out
	}
	base := ids(6, "s-")
	cases := []struct {
		name      string
		next      []string
		unchanged []string // ids whose keys must not move
	}{
		{"an id added in front keeps every other key", append([]string{"new"}, base...), base},
		{"an id added in the middle keeps every other key", slices.Insert(slices.Clone(base), 3, "new"), base},
		{"an id added at the end keeps every other key", append(slices.Clone(base), "new"), base},
		{"a removed id keeps every other key", slices.Delete(slices.Clone(base), 2, 3), []string{"s-a", "s-b", "s-d", "s-e", "s-f"}},
		{"an id moved to the front changes its key only", append([]string{"s-f"}, base[:5]...), base[:5]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o orderKeys
			first := o.assign(base)
			before := make(map[string]uint64, len(first))
			for k, v := range first {
				before[k] = v
			}
			got := o.assign(c.next)
			for _, id := range c.unchanged {
				if got[id] != before[id] {
					t.Errorf("%s moved from %d to %d", id, before[id], got[id])
				}
			}
			for i := 1; i < len(c.next); i++ {
				if got[c.next[i-1]] >= got[c.next[i]] {
					t.Errorf("keys out of order: %s=%d, %s=%d", c.next[i-1], got[c.next[i-1]], c.next[i], got[c.next[i]])
				}
			}
		})
	}
	t.Run("a gap that fills up is renumbered and stays in order", func(t *testing.T) {
		var o orderKeys
		list := []string{"a", "z"}
		o.assign(list)
		for i := range 40 { // each insertion right after "a" halves the gap there: it fills after ~20
			list = slices.Insert(list, 1, string(rune('A'+i%26))+string(rune('0'+i/26)))
			got := o.assign(list)
			for j := 1; j < len(list); j++ {
				if got[list[j-1]] >= got[list[j]] {
					t.Fatalf("insertion %d: %s=%d before %s=%d", i, list[j-1], got[list[j-1]], list[j], got[list[j]])
				}
			}
		}
	})
}
