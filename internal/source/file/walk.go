package file

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"egret.dev/egret/internal/api"
)

// found is one resource file under a directory: its path as walked and what it resolves to.
type found struct {
	path string
	info fs.FileInfo // after following symlinks; nil when they do not resolve
	real string      // the path with every symlink resolved, or ""
}

// walk lists the resource files under root in lexical order. Symlinks are followed, to files and to
// directories (a Kubernetes ConfigMap mount is a tree of them); a directory reached twice, through a loop
// or another link, is read once. Names starting with "." are skipped, so the `..data` and `..2026_...`
// entries of a ConfigMap mount are read only through the visible links that point into them. Files that
// are not regular (named pipes, sockets, devices) and links that do not resolve are listed with their
// problem in skipped, never opened.
func walk(root string) (files []found, skipped []api.Problem, err error) {
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, nil, fmt.Errorf("reading resources: %w", err)
	}
	visited := map[string]bool{rootReal: true}
	var dir func(path string) error
	dir = func(path string) error {
		entries, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("reading resources: %w", err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue // editor, VCS and ConfigMap bookkeeping entries
			}
			p := filepath.Join(path, e.Name())
			info, statErr := os.Stat(p) // follows symlinks
			if statErr != nil {
				if isResourceFile(p) {
					skipped = append(skipped, warning(p, fmt.Sprintf("skipped: %v", unwrapPath(statErr))))
				}
				continue
			}
			if info.IsDir() {
				real, err := filepath.EvalSymlinks(p)
				if err != nil || visited[real] {
					continue // a loop, or a directory already read through another path
				}
				visited[real] = true
				if err := dir(p); err != nil {
					return err
				}
				continue
			}
			if !isResourceFile(p) {
				continue
			}
			if !info.Mode().IsRegular() {
				skipped = append(skipped, warning(p, "skipped: not a regular file ("+describeMode(info.Mode())+")"))
				continue
			}
			real, _ := filepath.EvalSymlinks(p)
			files = append(files, found{path: p, info: info, real: real})
		}
		return nil
	}
	if err := dir(root); err != nil {
		return nil, nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, skipped, nil
}

// Fingerprint summarizes the resource files under dir (each one's name, where its links lead, size,
// modification time and file identity), so a poll notices any change without reading every file:
// editing a file, editing a symlink's target, swapping a ConfigMap's `..data` link, or a file
// appearing, vanishing or turning into something that is not a regular file.
func Fingerprint(dir string) string {
	h := sha256.New()
	files, skipped, err := walk(dir)
	if err != nil {
		fmt.Fprintf(h, "err %v\n", err)
	}
	for _, f := range files {
		fmt.Fprintf(h, "%s -> %s %d %d %s %s\n", f.path, f.real, f.info.Size(), f.info.ModTime().UnixNano(), f.info.Mode(), fileID(f.info))
	}
	for _, s := range skipped {
		fmt.Fprintf(h, "skipped %s\n", s.Error())
	}
	return hex.EncodeToString(h.Sum(nil))
}

func warning(path, msg string) api.Problem {
	return api.Problem{Severity: api.SeverityWarning, Source: api.Source{File: path}, Message: msg}
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// unwrapPath drops the path an *fs.PathError repeats, since the problem names the file already.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
