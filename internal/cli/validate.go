package cli

import (
	"github.com/spf13/cobra"

	"egret.dev/egret/internal/offline"
)

func newValidateCmd(s streams) *cobra.Command {
	var in inputFlags
	cmd := &cobra.Command{
		Use:   "validate -f PATH...",
		Short: "Check resource files without running anything",
		Long: `validate decodes every resource under the given files and directories strictly, checks
each one and the references between them, and prints every problem found as
file:line: Kind namespace/name: field: message.

Errors make the command exit 1; warnings are printed and do not.`,
		Example: `  egret validate -f examples/bookinfo-egress
  envsubst < gm-egress-gateway.yaml | egret validate -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			snap, err := in.load(s)
			ok, err := offline.Validate(s.out, snap, err)
			if err != nil || !ok {
				return withCode(ExitError, err) // problems are printed; err is what stopped the check
			}
			return nil
		},
	}
	in.register(cmd)
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}
