package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/lockdown"
)

func newExecCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "exec NAMESPACE/NAME -- CMD [ARGS...]",
		Short: "Run a command inside a workload's network namespace (like kubectl exec)",
		Long: `exec runs CMD inside the network namespace that 'egret up' gave the Workload NAMESPACE/NAME
(a Workload with sidecar.mode: transparent, when up runs as root on Linux). Standard input, output
and error are the command's; egret exits with the command's exit code.

Inside, every outbound TCP connection is redirected to the workload's sidecar, which carries it as
the policy allows; anything else (a direct dial that escapes the redirect, UDP, ICMP) is refused.
Names are resolved as on the host; the address a name resolves to does not matter for TCP, since the
sidecar routes by the HTTP Host header or the TLS SNI.

The command runs as the calling user (root, since joining a namespace needs it) and could therefore
change the namespace's rules; run workloads that must not be able to do that as an unprivileged user
(for example 'egret exec ns/w -- setpriv --reuid=nobody --regid=nogroup --clear-groups CMD').`,
		Example: `  egret exec bookinfo/details -- curl -sS http://www.google.com/
  egret exec bookinfo/details -- sh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || cmd.ArgsLenAtDash() != 1 {
				return fmt.Errorf("usage: egret exec NAMESPACE/NAME -- CMD [ARGS...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, ok := strings.Cut(args[0], "/")
			if !ok || ns == "" || name == "" {
				return usagef("%q: name the workload as NAMESPACE/NAME", args[0])
			}
			err := lockdown.Exec(cmd.Context(), lockdown.Command{Namespace: ns, Name: name, Args: args[1:], Stdin: s.in, Stdout: s.out, Stderr: s.err})
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if code := ee.ExitCode(); code > 0 {
					return withCode(code, nil)
				}
				return fmt.Errorf("%s: %v", args[1], err)
			}
			return err
		},
	}
}
