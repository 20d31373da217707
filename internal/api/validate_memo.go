package api

// ValidateMemo validates snapshots one after another, checking again only the objects that are new
// since the previous call: the problems an object has alone depend on that object only, and an
// unchanged object is the same Object (source/file.Dir hands out unchanged files' objects again, and
// nothing mutates them). The checks across objects run every time. Validate(s) and a ValidateMemo's
// Validate(s) return the same problems.
type ValidateMemo struct {
	alone map[Object]Problems
}

// Validate is Validate(s), reusing the previous call's checks of each object that is still in s.
func (m *ValidateMemo) Validate(s *Snapshot) Problems {
	v := &validator{}
	objs := s.Objects()
	next := make(map[Object]Problems, len(objs))
	for _, o := range objs {
		if ps, ok := m.alone[o]; ok {
			v.problems = append(v.problems, ps...)
			next[o] = ps
			continue
		}
		n := len(v.problems)
		v.object(o)
		next[o] = append(Problems(nil), v.problems[n:]...) // a copy: across sorts v.problems in place
	}
	m.alone = next
	return v.across(s)
}
