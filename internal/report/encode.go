package report

import (
	"encoding/json"
	"io"

	"go.yaml.in/yaml/v3"
)

// Encode writes v as format (json or yaml) to w.
func Encode(w io.Writer, format string, v any) error {
	if format == "yaml" {
		// Through JSON, so YAML keys are the same as the JSON field names.
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := json.Unmarshal(b, &generic); err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(generic); err != nil {
			return err
		}
		return enc.Close()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
