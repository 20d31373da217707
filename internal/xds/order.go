package xds

import "sort"

// orderKeys give the resources of one kind (services, route tables, policies) sort keys that keep the
// plan's order without being positions: a service inserted before others gets a key between its
// neighbours' and the others keep theirs, so one added service is one added resource. (With positions,
// adding a file that sorts first would renumber, and resend, the whole registry.) Proxies sort by key.
type orderKeys struct {
	keys map[string]uint64
}

// keyStep is the spacing of freshly numbered keys: about a million insertions fit between two neighbours
// before the kind is renumbered (and resent) once.
const keyStep = 1 << 20

// assign returns the keys of ids, in plan order. The longest run of ids whose old keys already increase
// keeps them; the others get keys spread evenly in the gap between their kept neighbours. When a gap is
// too narrow, every id is renumbered.
func (o *orderKeys) assign(ids []string) map[string]uint64 {
	if o.keys == nil {
		o.keys = map[string]uint64{}
	}
	keep := longestIncreasing(ids, o.keys)
	next := make(map[string]uint64, len(ids))
	ok := true
	for i := 0; i < len(ids) && ok; {
		if keep[i] {
			next[ids[i]] = o.keys[ids[i]]
			i++
			continue
		}
		j := i
		for j < len(ids) && !keep[j] {
			j++
		}
		var lo, hi uint64
		if i > 0 {
			lo = next[ids[i-1]]
		}
		if j < len(ids) {
			hi = o.keys[ids[j]]
		} else {
			hi = lo + uint64(j-i+1)*keyStep
		}
		step := (hi - lo) / uint64(j-i+1)
		if hi <= lo || step == 0 {
			ok = false
			break
		}
		for k := i; k < j; k++ {
			next[ids[k]] = lo + uint64(k-i+1)*step
		}
		i = j
	}
	if !ok {
		clear(next)
		for i, id := range ids {
			next[id] = uint64(i+1) * keyStep
		}
	}
	o.keys = next
	return next
}

// longestIncreasing marks the ids that keep their old keys: a longest subsequence whose old keys
// strictly increase (patience sorting, O(n log n)).
func longestIncreasing(ids []string, old map[string]uint64) []bool {
	keep := make([]bool, len(ids))
	var tails []int // tails[l] = index in ids of the smallest tail of a run of length l+1
	prev := make([]int, len(ids))
	for i, id := range ids {
		k, ok := old[id]
		if !ok {
			prev[i] = -1
			continue
		}
		l := sort.Search(len(tails), func(t int) bool { return old[ids[tails[t]]] >= k })
		if l > 0 {
			prev[i] = tails[l-1]
		} else {
			prev[i] = -1
		}
		if l == len(tails) {
			tails = append(tails, i)
		} else {
			tails[l] = i
		}
	}
	if len(tails) > 0 {
		for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
			keep[i] = true
		}
	}
	return keep
}
