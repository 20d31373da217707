package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"egret.dev/egret/internal/ca"
)

// dataDirEnv overrides the default data directory for every command.
const dataDirEnv = "EGRET_DATA_DIR"

// defaultDataDir is where the CA's root key, certificate and join tokens live unless --data-dir says
// otherwise: the same for egret up, controlplane, token and ca, so a token created in one shell is
// redeemable by the up running in another. $EGRET_DATA_DIR; as root /var/lib/egret; else
// $XDG_STATE_HOME/egret (~/.local/state/egret).
func defaultDataDir() string {
	if d := os.Getenv(dataDirEnv); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/egret"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "egret")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "egret")
	}
	return "/var/lib/egret"
}

// addDataDirFlag registers --data-dir with the shared default.
func addDataDirFlag(fl *pflag.FlagSet, v *string, what string) {
	fl.StringVar(v, "data-dir", defaultDataDir(), what+" (default for every command: $"+dataDirEnv+", as root /var/lib/egret, else ~/.local/state/egret)")
}

// openExistingCA opens the CA in dataDir and refuses to create one: a token or bundle from a CA that
// nothing serves would be useless, and the error should say where the running one is.
func openExistingCA(dataDir string, log *slog.Logger) (*ca.CA, error) {
	if !ca.Exists(dataDir) {
		return nil, withCode(ExitError, fmt.Errorf("no CA in %s: 'egret up', 'egret controlplane' and 'egret ca serve' create one in their --data-dir when they start; "+
			"start one of them first, or pass --data-dir (or set $%s) to the data directory a running one uses ('egret up' prints it on its 'control plane' line)", dataDir, dataDirEnv))
	}
	return openCA(dataDir, log)
}
