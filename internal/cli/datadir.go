package cli

import (
	"fmt"

	"github.com/spf13/pflag"

	"egret.dev/egret/internal/ca"
)

const dataDirEnv = ca.DataDirEnv

// addDataDirFlag registers --data-dir with the shared default (ca.DefaultDataDir).
func addDataDirFlag(fl *pflag.FlagSet, v *string, what string) {
	fl.StringVar(v, "data-dir", ca.DefaultDataDir(), what+" (default for every command: $"+dataDirEnv+", as root /var/lib/egret, else ~/.local/state/egret)")
}

// openExistingCA opens the CA in dataDir and refuses to create one: a token or bundle from a CA that
// nothing serves would be useless, and the error should say where the running one is.
func openExistingCA(dataDir string) (*ca.CA, error) {
	if !ca.Exists(dataDir) {
		return nil, withCode(ExitError, fmt.Errorf("no CA in %s: 'egret up', 'egret controlplane' and 'egret ca serve' create one in their --data-dir when they start; "+
			"start one of them first, or pass --data-dir (or set $%s) to the data directory a running one uses ('egret up' prints it on its 'control plane' line)", dataDir, dataDirEnv))
	}
	c, err := ca.New(ca.Params{DataDir: dataDir})
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	return c, nil
}
