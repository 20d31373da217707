package cli

import (
	"github.com/spf13/cobra"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/source/file"
)

// inputFlags are the flags of every command that reads resources.
type inputFlags struct {
	paths     []string
	expandEnv bool
}

func (f *inputFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.paths, "filename", "f", nil, "resource file or directory (repeatable; - reads standard input)")
	cmd.Flags().BoolVar(&f.expandEnv, "expand-env", false, "replace $VAR and ${VAR} with environment values before decoding (like envsubst)")
}

// load reads the resources; decoding problems come back as api.Problems.
func (f *inputFlags) load(s streams) (*api.Snapshot, error) {
	return file.Load(f.paths, file.Options{ExpandEnv: f.expandEnv, Stdin: s.in})
}
