package ca

import (
	"os"
	"path/filepath"
)

// DataDirEnv overrides the default data directory for every command.
const DataDirEnv = "EGRET_DATA_DIR"

// DefaultDataDir is where the CA's root key, certificate and join tokens live unless a command says
// otherwise: the same for egret up, controlplane, token and ca, so a token created in one shell is
// redeemable by the up running in another. $EGRET_DATA_DIR; as root /var/lib/egret; else
// $XDG_STATE_HOME/egret (~/.local/state/egret).
func DefaultDataDir() string {
	if d := os.Getenv(DataDirEnv); d != "" {
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
