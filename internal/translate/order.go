package translate

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"strings"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// orderKeys keys the plan's services, route tables and policies by where they are defined, so that a
// proxy can rebuild the plan's order from its resources (ir.OrderKeys) and every control plane computes
// the same keys from the same inputs.
func (t *translator) orderKeys() {
	s := t.snap
	prefix := commonDir(s.Objects())
	file := func(o api.Object) string { return sourceGroup(o.GetSource().File, prefix) }
	services := map[string]string{}
	for _, es := range s.ExternalServices {
		if t.valid(es) {
			services[serviceID(es)] = file(es)
		}
	}
	tables := map[string]string{}
	for _, rt := range s.RouteTables {
		if t.valid(rt) {
			tables[rt.Metadata.Namespace+"/"+rt.Metadata.Name] = file(rt)
		}
	}
	policies := map[string]string{}
	for _, ap := range s.AccessPolicies {
		if t.valid(ap) {
			policies[ap.Metadata.Namespace+"/"+ap.Metadata.Name] = file(ap)
		}
	}
	p := t.plan
	p.Order = &ir.OrderKeys{
		Services:    sortKeys(len(p.Services), func(i int) string { return p.Services[i].ID }, services),
		RouteTables: sortKeys(len(p.RouteTables), func(i int) string { return p.RouteTables[i].ID }, tables),
		Policies:    sortKeys(len(p.Policies), func(i int) string { return p.Policies[i].ID }, policies),
	}
}

// sortKeys keys n ids, given in plan order, by their file: the file's path, a zero byte, and the number
// of the run of increasing ids within the file that the id belongs to (4 bytes). Sorting by (key, id)
// then gives the plan's order, and the key of an id depends only on its file's contents: an object
// added in a new file, or in id order within its file, changes no other key. When the keys would not
// give the plan's order (a source that orders its objects otherwise), each id is keyed by its position
// instead, still a function of the inputs alone.
func sortKeys(n int, id func(int) string, files map[string]string) map[string][]byte {
	keys := make(map[string][]byte, n)
	var prevFile, prevID string
	var prevKey []byte
	var run uint32
	ok := true
	for i := 0; i < n && ok; i++ {
		f, known := files[id(i)]
		if !known {
			ok = false
			break
		}
		if i > 0 && f == prevFile && id(i) <= prevID {
			run++
		} else if f != prevFile {
			run = 0
		}
		k := binary.BigEndian.AppendUint32(append([]byte(f), 0), run)
		if i > 0 && cmp.Or(bytes.Compare(prevKey, k), strings.Compare(prevID, id(i))) >= 0 {
			ok = false // a file seen before, or files not in path order
		}
		keys[id(i)] = k
		prevFile, prevID, prevKey = f, id(i), k
	}
	if !ok {
		clear(keys)
		for i := 0; i < n; i++ {
			keys[id(i)] = binary.BigEndian.AppendUint64(nil, uint64(i))
		}
	}
	return keys
}

// commonDir is the directory every object's source file is under (with its trailing slash), so that
// keys do not depend on how the directory was named (`-f dir` or `-f /abs/dir`).
func commonDir(objs []api.Object) string {
	var prefix string
	for i, o := range objs {
		f := o.GetSource().File
		if i == 0 {
			prefix = f[:strings.LastIndexByte(f, '/')+1]
			continue
		}
		for prefix != "" && !strings.HasPrefix(f, prefix) {
			prefix = prefix[:strings.LastIndexByte(prefix[:len(prefix)-1], '/')+1]
		}
	}
	return prefix
}

// sourceGroup is the part of a source file name that keys its objects: the path under the common
// directory for a file; for an object read from Kubernetes, whose "file" names the object itself, the
// source as a whole (its objects are listed by namespace and name, the id order).
func sourceGroup(file, prefix string) string {
	if scheme, _, ok := strings.Cut(file, ":"); ok && scheme == "kubernetes" {
		return scheme + ":"
	}
	return strings.TrimPrefix(file, prefix)
}
