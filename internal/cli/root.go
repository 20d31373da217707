// Package cli builds egret's command tree: one file per subcommand turns its flags into the Options of the package that does the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/loadgen"
	"egret.dev/egret/internal/proxyrun"
	"egret.dev/egret/internal/version"
)

// Exit codes shared by every subcommand.
const (
	ExitOK     = 0
	ExitError  = 1 // invalid input, failed validation, runtime failure
	ExitUsage  = 2 // bad flags or arguments
	ExitDenied = 3 // egret check: the request would be denied
)

// exitError carries an exit code through cobra without printing twice.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode returns an error that makes Run exit with code; a nil err exits silently.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usagef is a usage error (ExitUsage) with a message.
func usagef(format string, a ...any) error { return withCode(ExitUsage, fmt.Errorf(format, a...)) }

// exitCodes maps, at the boundary, what a command's RunE returns to an exit code: an error the command
// gave no code is a usage error when the package that returned it marks it so (options that do not go
// together), else ExitError. Errors from cobra itself (flags, arguments) stay ExitUsage (see Run).
func exitCodes(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			var ee *exitError
			var pu proxyrun.UsageError
			var lu loadgen.UsageError
			switch {
			case err == nil || errors.As(err, &ee):
				return err
			case errors.As(err, &pu), errors.As(err, &lu):
				return withCode(ExitUsage, err)
			}
			return withCode(ExitError, err)
		}
	}
	for _, sub := range cmd.Commands() {
		exitCodes(sub)
	}
}

// streams are the command's standard input and outputs, injected so tests can run commands in-process.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// log is a process's JSON logger, to standard error.
func (s streams) log() *slog.Logger { return slog.New(slog.NewJSONHandler(s.err, nil)) }

// Run executes egret with args and returns the process exit code.
func Run(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) int {
	root := newRoot(streams{in: in, out: out, err: errw})
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errw)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(errw, "egret:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(errw, "egret:", err)
	return ExitUsage
}

func newRoot(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "egret",
		Short: "Egress control for service meshes",
		Long: `egret sends every call from the mesh to the outside world through an egress gateway.
Only the workloads an AccessPolicy names may reach each external host; the caller's
identity is proven by mutual TLS; TLS to the outside is originated and verified at the
gateway; every allow and deny is logged with the host and the caller.

Resources are Gloo Mesh's (ExternalService, VirtualGateway, AccessPolicy,
GatewayLifecycleManager, ...) plus egret's Mesh and Workload, in YAML or JSON files.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = version.Current()
	root.SetVersionTemplate("egret {{.Version}}\n")
	root.AddCommand(
		newVersionCmd(s),
		newValidateCmd(s),
		newCheckCmd(s),
		newGetCmd(s),
		newLoadgenCmd(s),
		newCACmd(s),
		newTokenCmd(s),
		newRenderCmd(s),
		newGatewayCmd(s),
		newSidecarCmd(s),
		newControlPlaneCmd(s),
		newStatusCmd(s),
		newUpCmd(s),
		newDemoCmd(s),
		newExecCmd(s),
		newInstallCmd(s),
	)
	exitCodes(root)
	return root
}

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
