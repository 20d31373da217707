package file

import (
	"context"

	"egret.dev/egret/internal/api"
)

// Dir is a resource directory read again and again, as the control plane does. It remembers the last
// contents of each file that decoded, so a file caught half-written or saved broken keeps contributing
// those contents (its problems are reported as warnings) while the other files' changes apply. A file
// that never decoded has nothing to fall back on: its problems stay errors.
type Dir struct {
	path string
	opts Options
	good map[string][]byte // by file name: the last contents that decoded without errors
	next map[string][]byte // good, as being rebuilt by a load
}

// NewDir prepares loads of the directory at path.
func NewDir(path string, opts Options) *Dir {
	return &Dir{path: path, opts: opts, good: map[string][]byte{}}
}

// Load reads the directory like LoadContext, falling back to each broken file's last good contents.
// What it read becomes the files' last good contents only on Commit, so a load the caller drops (the
// directory changed while it was read, or ctx ended) changes nothing.
func (d *Dir) Load(ctx context.Context) (*api.Snapshot, error) {
	d.next = map[string][]byte{}
	return load(ctx, []string{d.path}, d.opts, d)
}

// Commit keeps what the last Load read as each file's last good contents; files that vanished are
// forgotten.
func (d *Dir) Commit() {
	if d.next != nil {
		d.good, d.next = d.next, nil
	}
}

// settle decides what one file contributes to a load.
func (d *Dir) settle(name string, data []byte, objs []api.Object, ps []api.Problem) ([]api.Object, []api.Problem) {
	if len(api.Problems(ps).Blocking()) == 0 {
		d.next[name] = data
		return objs, ps
	}
	last, ok := d.good[name]
	if !ok {
		return objs, ps
	}
	d.next[name] = last
	kept, _ := api.Decode(name, last)
	out := make([]api.Problem, len(ps))
	for i, p := range ps {
		p.Severity = api.SeverityWarning
		p.Message += " (the file's last good contents are still used)"
		out[i] = p
	}
	return kept, out
}
