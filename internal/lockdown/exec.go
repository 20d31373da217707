package lockdown

import (
	"fmt"
	"os"
	"os/exec"
)

// Exec runs c inside the network namespace egret up gave the Workload namespace/name and waits for it
// (egret exec); the command's own failure comes back as Wait returns it. Joining a namespace needs root.
func Exec(namespace, name string, c *exec.Cmd) error {
	path, err := Lookup(namespace, name)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("egret exec needs root: joining workload %s's network namespace needs CAP_SYS_ADMIN (this is uid %d)", describe(namespace, name), os.Geteuid())
	}
	if err := Start(path, c); err != nil {
		return fmt.Errorf("exec in workload %s: %w", describe(namespace, name), err)
	}
	return c.Wait()
}
