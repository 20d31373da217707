package ca

import (
	"os"
	"path/filepath"
)

// Exists reports whether dataDir holds a CA root (its certificate), so a command that must use an
// existing CA (egret token create, egret ca bundle) can refuse instead of creating a new one.
func Exists(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, rootCertFile))
	return err == nil
}
