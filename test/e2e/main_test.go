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

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
