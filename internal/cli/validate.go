package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/translate"
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
			var problems api.Problems
			if err != nil && !errors.As(err, &problems) {
				return withCode(ExitError, err)
			}
			// Translate validates too, and adds what only translation sees (a VirtualGateway selecting no
			// gateway, a policy selecting no service), so validate reports what the control plane would.
			problems = append(problems, translate.Translate(snap).Problems()...)
			for _, p := range problems {
				fmt.Fprintln(s.out, p.Error())
			}
			errs := len(problems.Errors())
			warns := len(problems) - errs
			n := len(snap.Objects())
			if errs > 0 {
				fmt.Fprintf(s.out, "%d %s, %d %s in %d valid %s\n", errs, plural(errs, "error"), warns, plural(warns, "warning"), n, plural(n, "object"))
				return withCode(ExitError, nil)
			}
			fmt.Fprintf(s.out, "%d %s valid", n, plural(n, "object"))
			if warns > 0 {
				fmt.Fprintf(s.out, ", %d %s", warns, plural(warns, "warning"))
			}
			fmt.Fprintln(s.out)
			return nil
		},
	}
	in.register(cmd)
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
