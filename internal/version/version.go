// Package version says which egret this is, from what the Go toolchain stamped into the binary.
package version

import (
	"runtime/debug"
	"strings"
)

// Current is this binary's version (String of its build info).
func Current() string {
	bi, _ := debug.ReadBuildInfo()
	return String(bi)
}

// String reads what the Go toolchain stamped into the binary: the module version ("(devel)"
// for a build from a working copy) and, when built from a VCS checkout, the revision, its time and
// whether the tree had uncommitted changes.
func String(bi *debug.BuildInfo) string {
	if bi == nil {
		return "(devel) (no build info)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	var extra []string
	if r := settings["vcs.revision"]; r != "" {
		if len(r) > 12 {
			r = r[:12]
		}
		if settings["vcs.modified"] == "true" {
			r += "-dirty"
		}
		extra = append(extra, "commit "+r)
	}
	if t := settings["vcs.time"]; t != "" {
		extra = append(extra, t)
	}
	if bi.GoVersion != "" {
		extra = append(extra, bi.GoVersion)
	}
	if len(extra) == 0 {
		return v
	}
	return v + " (" + strings.Join(extra, ", ") + ")"
}
