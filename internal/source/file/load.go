// Package file loads resources from files, directories and standard input.
package file

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
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
}

// MaxFileSize bounds one resource file, so a stray large file cannot exhaust memory.
const MaxFileSize = 32 << 20

// Load reads every *.yaml, *.yml and *.json under paths (directories recursively, in lexical order; "-" is
// stdin), decodes and defaults each object, and returns the snapshot of every object that decoded. When
// anything failed to decode the error is an api.Problems listing every problem; callers that must not act
// on a partial configuration check the error before using the snapshot.
func Load(paths []string, opts Options) (*api.Snapshot, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no input: name a file or directory with -f (or - for standard input)")
	}
	snap := &api.Snapshot{}
	var problems api.Problems
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := read(f, opts.Stdin)
			if err != nil {
				return nil, err
			}
			if opts.ExpandEnv {
				get := opts.Getenv
				if get == nil {
					get = os.Getenv
				}
				data = []byte(os.Expand(string(data), get))
			}
			name := f
			if f == "-" {
				name = "<stdin>"
			}
			objs, ps := api.Decode(name, data)
			problems = append(problems, ps...)
			for _, o := range objs {
				api.SetDefaults(o)
				snap.Add(o)
			}
		}
	}
	if len(problems) > 0 {
		return snap, problems
	}
	return snap, nil
}

// expand turns a path into the resource files it names.
func expand(p string) ([]string, error) {
	if p == "-" {
		return []string{"-"}, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading resources: %w", err)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir // editor and VCS folders
			}
			return nil
		}
		if isResourceFile(path) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading resources: %w", err)
	}
	sort.Strings(files)
	return files, nil
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

func read(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		if stdin == nil {
			return nil, fmt.Errorf("reading resources: no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("reading resources: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d MiB; is this a resource file?", name, MaxFileSize>>20)
	}
	return data, nil
}
