package proxyrun

import (
	"log/slog"
	"net"

	"egret.dev/egret/internal/connlimit"
)

// ConnLimits bound the connections one proxy's listeners hold, so a workload that opens thousands of
// connections uses up its own share and not the file descriptors its neighbours need. Zero is no limit.
type ConnLimits struct {
	Max, PerSource int
}

// Defaults for a proxy run on its own; `egret up` derives smaller ones from its file descriptor limit.
const (
	DefaultSidecarMaxConns = 1024
	DefaultGatewayMaxConns = 10000
)

// Wrap applies the limits to ln.
func (l ConnLimits) Wrap(ln net.Listener, log *slog.Logger) net.Listener {
	if l.Max <= 0 && l.PerSource <= 0 {
		return ln
	}
	return connlimit.New(ln, connlimit.Params{Max: l.Max, PerSource: l.PerSource, Log: log})
}

// Listen is a net.Listen that applies the limits to every listener.
func (l ConnLimits) Listen(log *slog.Logger) func(network, addr string) (net.Listener, error) {
	return func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		return l.Wrap(ln, log), nil
	}
}
