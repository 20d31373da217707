package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/version"
)

func newVersionCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print egret's version (module version, VCS revision and time, Go version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(s.out, "egret", version.Current())
			return nil
		},
	}
}
