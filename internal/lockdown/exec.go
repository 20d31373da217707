package lockdown

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Command is what `egret exec` runs: a program inside the network namespace that egret up gave the
// Workload Namespace/Name.
type Command struct {
	Namespace, Name string
	Args            []string // the program and its arguments
	Stdin           io.Reader
	Stdout, Stderr  io.Writer
}

// Exec runs c and waits for it; the program's own failure comes back as (*exec.Cmd).Wait returns it.
// When ctx ends the program gets SIGTERM, and SIGKILL 5 s later. Joining a namespace needs root.
func Exec(ctx context.Context, c Command) error {
	path, err := Lookup(c.Namespace, c.Name)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("egret exec needs root: joining workload %s's network namespace needs CAP_SYS_ADMIN (this is uid %d)", describe(c.Namespace, c.Name), os.Geteuid())
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := Start(path, cmd); err != nil {
		return fmt.Errorf("exec in workload %s: %w", describe(c.Namespace, c.Name), err)
	}
	return cmd.Wait()
}
