// Package file loads resources from files, directories and standard input.
package file

import (
	"io"

	"egret.dev/egret/internal/api"
)

// Options control a load.
type Options struct {
	// ExpandEnv replaces $VAR and ${VAR} with environment values before decoding (like envsubst).
	ExpandEnv bool
	// Stdin is read when a path is "-".
	Stdin io.Reader
}

// Load reads every *.yaml, *.yml and *.json under paths (directories recursively; "-" is stdin), decodes
// and defaults each object, and returns the snapshot. The error joins every decoding problem (api.Problem).
func Load(paths []string, opts Options) (*api.Snapshot, error) {
	return &api.Snapshot{}, nil // TODO(core): decoder
}
