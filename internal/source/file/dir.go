package file

import (
	"bytes"
	"context"

	"egret.dev/egret/internal/api"
)

// Dir is a resource directory read again and again, as the control plane does. It remembers the last
// contents of each file that decoded, so a file caught half-written or saved broken keeps contributing
// those contents (its problems are reported as warnings) while the other files' changes apply. A file
// that never decoded has nothing to fall back on: its problems stay errors.
//
// A file whose contents are the same as at the last load is not decoded again: its objects, decoded and
// defaulted then, are handed out again, so one changed file among thousands costs one file's decoding.
// Nothing after decoding may change a decoded object (translate and everything after it only read
// the snapshot; internal/translate's TestTranslateLeavesTheSnapshotAlone checks it).
type Dir struct {
	path string
	opts Options
	good map[string]decoded // by file name: the last contents that decoded without errors
	next map[string]decoded // good, as being rebuilt by a load
}

// decoded is one file's contents and what they decoded to (defaults set).
type decoded struct {
	data []byte
	objs []api.Object
	ps   []api.Problem
}

// NewDir prepares loads of the directory at path.
func NewDir(path string, opts Options) *Dir {
	return &Dir{path: path, opts: opts, good: map[string]decoded{}}
}

// Load reads the directory like LoadContext, falling back to each broken file's last good contents.
// What it read becomes the files' last good contents only on Commit, so a load the caller drops (the
// directory changed while it was read, or ctx ended) changes nothing.
func (d *Dir) Load(ctx context.Context) (*api.Snapshot, error) {
	d.next = map[string]decoded{}
	return load(ctx, []string{d.path}, d.opts, d)
}

// Commit keeps what the last Load read as each file's last good contents; files that vanished are
// forgotten.
func (d *Dir) Commit() {
	if d.next != nil {
		d.good, d.next = d.next, nil
	}
}

// unchanged returns what a file decoded to at the last load when its contents are the same.
func (d *Dir) unchanged(name string, data []byte) ([]api.Object, []api.Problem, bool) {
	last, ok := d.good[name]
	if !ok || !bytes.Equal(last.data, data) {
		return nil, nil, false
	}
	d.next[name] = last
	return last.objs, last.ps, true
}

// settle decides what one file contributes to a load; objs have their defaults set.
func (d *Dir) settle(name string, data []byte, objs []api.Object, ps []api.Problem) ([]api.Object, []api.Problem) {
	if len(api.Problems(ps).Blocking()) == 0 {
		d.next[name] = decoded{data: data, objs: objs, ps: ps}
		return objs, ps
	}
	last, ok := d.good[name]
	if !ok {
		return objs, ps
	}
	d.next[name] = last
	kept := last.objs
	out := make([]api.Problem, len(ps))
	for i, p := range ps {
		p.Severity = api.SeverityWarning
		p.Message += " (the file's last good contents are still used)"
		out[i] = p
	}
	return kept, out
}
