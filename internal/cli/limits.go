package cli

import (
	"github.com/spf13/pflag"

	"egret.dev/egret/internal/proxyrun"
)

// connLimits bound the connections one proxy's listeners hold (proxyrun.ConnLimits).
type connLimits = proxyrun.ConnLimits

// Defaults for a proxy run on its own; `egret up` derives smaller ones from its file descriptor limit.
const (
	defaultSidecarMaxConns = 1024
	defaultGatewayMaxConns = 10000
)

func addSidecarLimitFlags(fl *pflag.FlagSet, l *connLimits) {
	fl.IntVar(&l.Max, "max-connections", defaultSidecarMaxConns, "connections the sidecar's listener holds at once; more wait in the kernel's backlog (0 = no limit)")
}

func addGatewayLimitFlags(fl *pflag.FlagSet, l *connLimits) {
	fl.IntVar(&l.Max, "max-connections", defaultGatewayMaxConns, "connections each listener holds at once; more wait in the kernel's backlog (0 = no limit)")
	fl.IntVar(&l.PerSource, "max-connections-per-source", 0, "connections one source IP may hold on a listener; more are closed (0 = no limit)")
}

// upLimits are the limits `egret up` gives each proxy it runs in its one process: a sidecar may hold an
// eighth of the process's file descriptors, a gateway listener a quarter, so one workload flooding its
// sidecar leaves the others, the gateways and the control plane room to work.
func upLimits() (sidecar, gateway connLimits) {
	n := openFileLimit()
	sidecar.Max = clamp(n/8, 16, defaultSidecarMaxConns)
	gateway.Max = clamp(n/4, 64, defaultGatewayMaxConns)
	return sidecar, gateway
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
