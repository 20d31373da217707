package cli

import (
	"log/slog"
	"net"

	"github.com/spf13/pflag"

	"egret.dev/egret/internal/connlimit"
)

// connLimits bound the connections one proxy's listeners hold, so a workload that opens thousands of
// connections uses up its own share and not the file descriptors its neighbours need.
type connLimits struct {
	max, perSource int
}

// Defaults for a proxy run on its own; `egret up` derives smaller ones from its file descriptor limit.
const (
	defaultSidecarMaxConns = 1024
	defaultGatewayMaxConns = 10000
)

func addSidecarLimitFlags(fl *pflag.FlagSet, l *connLimits) {
	fl.IntVar(&l.max, "max-connections", defaultSidecarMaxConns, "connections the sidecar's listener holds at once; more wait in the kernel's backlog (0 = no limit)")
}

func addGatewayLimitFlags(fl *pflag.FlagSet, l *connLimits) {
	fl.IntVar(&l.max, "max-connections", defaultGatewayMaxConns, "connections each listener holds at once; more wait in the kernel's backlog (0 = no limit)")
	fl.IntVar(&l.perSource, "max-connections-per-source", 0, "connections one source IP may hold on a listener; more are closed (0 = no limit)")
}

// wrap applies the limits to ln.
func (l connLimits) wrap(ln net.Listener, log *slog.Logger) net.Listener {
	if l.max <= 0 && l.perSource <= 0 {
		return ln
	}
	return connlimit.New(ln, connlimit.Params{Max: l.max, PerSource: l.perSource, Log: log})
}

// listen is a gateway.Params.Listen that applies the limits to every listener.
func (l connLimits) listen(log *slog.Logger) func(network, addr string) (net.Listener, error) {
	return func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		return l.wrap(ln, log), nil
	}
}

// upLimits are the limits `egret up` gives each proxy it runs in its one process: a sidecar may hold an
// eighth of the process's file descriptors, a gateway listener a quarter, so one workload flooding its
// sidecar leaves the others, the gateways and the control plane room to work.
func upLimits() (sidecar, gateway connLimits) {
	n := openFileLimit()
	sidecar.max = clamp(n/8, 16, defaultSidecarMaxConns)
	gateway.max = clamp(n/4, 64, defaultGatewayMaxConns)
	return sidecar, gateway
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
