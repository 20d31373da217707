package e2e

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"egret.dev/egret/internal/cli"
)

// cliEnv makes the test binary behave as the egret binary (its arguments are egret's), so a scenario can
// run egret as a real process: one it can kill with SIGKILL.
const cliEnv = "EGRET_E2E_AS_CLI"

// nofileEnv, with cliEnv, sets the egret process's open-file limit (as `ulimit -n` would).
const nofileEnv = "EGRET_E2E_NOFILE"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		lowerOpenFileLimit(os.Getenv(nofileEnv))
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
