package cli

import (
	"github.com/spf13/pflag"

	"egret.dev/egret/internal/proxyrun"
)

// connLimits bound the connections one proxy's listeners hold (proxyrun.ConnLimits).
type connLimits = proxyrun.ConnLimits

// Defaults for a proxy run on its own; `egret up` derives smaller ones from its file descriptor limit.
const (
	defaultSidecarMaxConns = proxyrun.DefaultSidecarMaxConns
	defaultGatewayMaxConns = proxyrun.DefaultGatewayMaxConns
)

func addSidecarLimitFlags(fl *pflag.FlagSet, l *connLimits) {
	fl.IntVar(&l.Max, "max-connections", defaultSidecarMaxConns, "connections the sidecar's listener holds at once; more wait in the kernel's backlog (0 = no limit)")
}

func addGatewayLimitFlags(fl *pflag.FlagSet, l *connLimits) {
	fl.IntVar(&l.Max, "max-connections", defaultGatewayMaxConns, "connections each listener holds at once; more wait in the kernel's backlog (0 = no limit)")
	fl.IntVar(&l.PerSource, "max-connections-per-source", 0, "connections one source IP may hold on a listener; more are closed (0 = no limit)")
}
