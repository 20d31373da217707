package istio

import (
	"os"
	"path/filepath"
)

// Encode writes outs as format: json (one List) or yaml (documents).
func Encode(format string, outs ...*Output) ([]byte, error) {
	if format == "json" {
		return JSON(outs...)
	}
	return YAML(outs...)
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
