package istio

import (
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Encode writes outs as format: json (one List) or yaml (documents).
func Encode(format string, outs ...*Output) ([]byte, error) {
	if format == "json" {
		return JSON(outs...)
	}
	return YAML(outs...)
}

// Write writes outs as format to path: one file per cluster when path is a directory (an existing one,
// or a path ending in /), else all in one file, or to stdout when path is "" or "-".
func Write(path, format string, outs []*Output, stdout io.Writer) error {
	if st, err := os.Stat(path); (err == nil && st.IsDir()) || strings.HasSuffix(path, "/") {
		return WriteDir(path, format, outs)
	}
	b, err := Encode(format, outs...)
	if err != nil {
		return err
	}
	if path == "" || path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// WriteDir writes each output to dir/<cluster>.<format>, creating dir.
func WriteDir(dir, format string, outs []*Output) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, o := range outs {
		b, err := Encode(format, o)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, o.Cluster+"."+format), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
