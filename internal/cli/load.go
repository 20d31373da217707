package cli

import (
	"context"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/source/file"
)

// inputFlags are the flags of every command that reads resources.
type inputFlags struct {
	paths     []string
	expandEnv bool
	cmd       *cobra.Command // whose context (cancelled by Ctrl-C) stops a load
}

func (f *inputFlags) register(cmd *cobra.Command) {
	f.cmd = cmd
	cmd.Flags().StringArrayVarP(&f.paths, "filename", "f", nil, "resource file or directory (repeatable; - reads standard input)")
	cmd.Flags().BoolVar(&f.expandEnv, "expand-env", false, "replace $VAR and ${VAR} with environment values before decoding (like envsubst)")
}

// load reads the resources; decoding problems come back as api.Problems. Ctrl-C stops it at any point,
// even while it waits on a named pipe or standard input.
func (f *inputFlags) load(s streams) (*api.Snapshot, error) {
	ctx := context.Background()
	if f.cmd != nil && f.cmd.Context() != nil {
		ctx = f.cmd.Context()
	}
	return file.LoadContext(ctx, f.paths, file.Options{ExpandEnv: f.expandEnv, Stdin: s.in})
}
