// Command egret is the egress control system's single binary; every job is a subcommand.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"egret.dev/egret/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
