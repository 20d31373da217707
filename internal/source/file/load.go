// Package file loads resources from files, directories and standard input.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"egret.dev/egret/internal/api"
)

// Options control a load.
type Options struct {
	// ExpandEnv replaces $VAR and ${VAR} with environment values before decoding (like envsubst).
	ExpandEnv bool
	// Stdin is read when a path is "-".
	Stdin io.Reader
	// Getenv looks variables up for ExpandEnv; nil means os.Getenv.
	Getenv func(string) string
	// MaxFileSize bounds one resource file, so a stray large file cannot exhaust memory; 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
}

// DefaultMaxFileSize is the largest resource file read unless Options say otherwise.
const DefaultMaxFileSize = 16 << 20

// Load is LoadContext without cancellation.
func Load(paths []string, opts Options) (*api.Snapshot, error) {
	return LoadContext(context.Background(), paths, opts)
}

// LoadContext reads every *.yaml, *.yml and *.json under paths (directories recursively, in lexical
// order, following symlinks; "-" is stdin), decodes and defaults each object, and returns the snapshot of
// every object that decoded. When anything failed to decode the error is an api.Problems listing every
// problem; callers that must not act on a partial configuration check the error before using the
// snapshot. In a directory only regular files are read: a named pipe, socket or device is skipped with a
// warning. A file named on its own is read whatever it is (so `-f <(kustomize build)` works), and when
// ctx ends while one is being waited on, LoadContext returns ctx's error at once.
func LoadContext(ctx context.Context, paths []string, opts Options) (*api.Snapshot, error) {
	return load(ctx, paths, opts, nil)
}

// input is one file to read; walked files were found in a directory and must be regular.
type input struct {
	path   string
	walked bool
}

func load(ctx context.Context, paths []string, opts Options, dir *Dir) (*api.Snapshot, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no input: name a file or directory with -f (or - for standard input)")
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	snap := &api.Snapshot{}
	var problems api.Problems
	for _, p := range paths {
		files, skipped, err := expand(p)
		if err != nil {
			return nil, err
		}
		problems = append(problems, skipped...)
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("reading resources: %w", err)
			}
			name := f.path
			if name == "-" {
				name = "<stdin>"
			}
			var objs []api.Object
			var ps []api.Problem
			data, err := read(ctx, f, opts)
			var notRegular errNotRegular
			switch {
			case ctx.Err() != nil:
				return nil, fmt.Errorf("reading %s: %w", name, ctx.Err())
			case errors.As(err, &notRegular) && f.walked:
				// Turned into a pipe or a socket since the walk: skipped like one found by the walk.
				problems = append(problems, warning(name, "skipped: not a regular file ("+describeMode(notRegular.mode)+")"))
				continue
			case err != nil:
				ps = []api.Problem{{Source: api.Source{File: name}, Message: err.Error()}}
			default:
				if opts.ExpandEnv {
					get := opts.Getenv
					if get == nil {
						get = os.Getenv
					}
					data = []byte(os.Expand(string(data), get))
				}
				if dir != nil {
					if kept, kps, ok := dir.unchanged(name, data); ok {
						problems = append(problems, kps...)
						for _, o := range kept {
							snap.Add(o)
						}
						continue
					}
				}
				objs, ps = api.Decode(name, data)
			}
			for _, o := range objs {
				api.SetDefaults(o)
			}
			if dir != nil {
				objs, ps = dir.settle(name, data, objs, ps)
			}
			problems = append(problems, ps...)
			for _, o := range objs {
				snap.Add(o)
			}
		}
	}
	if len(problems) > 0 {
		return snap, problems
	}
	return snap, nil
}

// expand turns a path into the resource files it names, and the files it skipped.
func expand(p string) ([]input, []api.Problem, error) {
	if p == "-" {
		return []input{{path: "-"}}, nil, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("reading resources: %w", err)
	}
	if !info.IsDir() {
		return []input{{path: p}}, nil, nil
	}
	found, skipped, err := walk(p)
	if err != nil {
		return nil, nil, err
	}
	files := make([]input, len(found))
	for i, f := range found {
		files[i] = input{path: f.path, walked: true}
	}
	return files, skipped, nil
}

// isResourceFile reports whether a file name is one egret loads from a directory.
func isResourceFile(path string) bool {
	base := filepath.Base(path)
	if strings.HasPrefix(base, ".") {
		return false
	}
	switch strings.ToLower(filepath.Ext(base)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// errNotRegular refuses a file found in a directory that is not a regular file.
type errNotRegular struct{ mode fs.FileMode }

func (e errNotRegular) Error() string { return "not a regular file (" + describeMode(e.mode) + ")" }

// read reads one input. A regular file is read in chunks, checking ctx between them. Standard input and
// a named pipe or device named on its own can block for ever (opening a pipe waits for a writer), so they
// are read by a goroutine that is abandoned when ctx ends: the command is exiting then.
func read(ctx context.Context, in input, opts Options) ([]byte, error) {
	if in.path == "-" {
		if opts.Stdin == nil {
			return nil, fmt.Errorf("no standard input")
		}
		return readAbandonable(ctx, func() (io.ReadCloser, error) { return io.NopCloser(opts.Stdin), nil }, opts.MaxFileSize)
	}
	if !in.walked {
		if info, err := os.Stat(in.path); err == nil && !info.Mode().IsRegular() {
			return readAbandonable(ctx, func() (io.ReadCloser, error) { return os.Open(in.path) }, opts.MaxFileSize)
		}
	}
	f, err := openRegular(in.path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	return readLimited(ctx, f, opts.MaxFileSize)
}

func readAbandonable(ctx context.Context, open func() (io.ReadCloser, error), limit int64) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := open()
		if err != nil {
			done <- result{nil, unwrapPath(err)}
			return
		}
		defer r.Close()
		data, err := readLimited(ctx, r, limit)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readLimited reads r to its end in chunks, stopping when ctx ends or the data exceeds limit.
func readLimited(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	var data []byte
	chunk := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := r.Read(chunk)
		data = append(data, chunk[:n]...)
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("larger than %d MiB, the limit for one resource file; is this a resource file?", limit>>20)
		}
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return nil, unwrapPath(err)
		}
	}
}
