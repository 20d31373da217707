package cli

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"egret.dev/egret/internal/proxyrun"
)

// The flags a gateway and a sidecar share: where the identity comes from, the access log and admin
// knobs, and the connection limits.

// identityFlags say where a proxy's SVID comes from: files (from `egret ca issue`), a join token and the
// control plane's address, or a SPIFFE Workload API socket (SPIRE).
type identityFlags struct {
	cert, key, bundle string
	controlPlane      string
	token             string
	dataDir           string
	workloadAPI       string
	configProtocol    string // how configs stream from the control plane (stream.go)
}

func (f *identityFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.cert, "cert", "", "SVID certificate chain (PEM), with --key and --bundle")
	fl.StringVar(&f.key, "key", "", "the SVID's private key (PEM)")
	fl.StringVar(&f.bundle, "bundle", "", "the mesh trust bundle (PEM)")
	fl.Var((*addressList)(&f.controlPlane), "control-plane", "enroll with and stream the config from the control plane at host:port (its TLS port, 15012) using --token; "+
		"several control planes sharing one data dir and config dir: repeat the flag or list them, a:15012,b:15012 (the proxy fails over in turn)")
	fl.StringVar(&f.token, "token", "", "single-use join token from 'egret token create' (with --control-plane)")
	fl.StringVar(&f.dataDir, "identity-dir", "", "keep the enrolled SVID here (key 0600) so a restart renews it without a new token")
	fl.StringVar(&f.configProtocol, "config-protocol", protocolXDS, "how the config streams from --control-plane: "+protocolXDS+" (delta xDS over gRPC), the only protocol")
	fl.StringVar(&f.workloadAPI, "workload-api", "", "get the SVID from a SPIFFE Workload API socket (SPIRE), e.g. unix:///run/spire/agent.sock")
}

// addressList is a string flag that may be repeated: the values are joined with commas, the form the
// identity and config clients split (--control-plane a:15012 --control-plane b:15012 = a:15012,b:15012).
type addressList string

func (a *addressList) String() string { return string(*a) }

func (a *addressList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return fmt.Errorf("%q: an empty address", v)
		}
		if _, _, err := net.SplitHostPort(part); err != nil {
			return fmt.Errorf("%q: want host:port: %w", part, err)
		}
	}
	if *a != "" {
		v = string(*a) + "," + v
	}
	*a = addressList(v)
	return nil
}

func (a *addressList) Type() string { return "host:port[,host:port...]" }

// The config protocol a proxy follows (--config-protocol): delta xDS. egret-config/v1, egret's own
// NDJSON stream, was removed; the flag stays so existing command lines keep working.
const (
	protocolXDS      = "xds"
	protocolConfigV1 = "egret-config/v1"
)

// options turns the identity flags into a proxy's proxyrun.Identity.
func (f identityFlags) options() (proxyrun.Identity, error) {
	switch f.configProtocol {
	case "", protocolXDS:
	case protocolConfigV1:
		return proxyrun.Identity{}, withCode(ExitUsage, fmt.Errorf("--config-protocol %s was removed: proxies follow delta xDS (%s) only", protocolConfigV1, protocolXDS))
	default:
		return proxyrun.Identity{}, withCode(ExitUsage, fmt.Errorf("--config-protocol %q: want %s", f.configProtocol, protocolXDS))
	}
	return proxyrun.Identity{Cert: f.cert, Key: f.key, Bundle: f.bundle, ControlPlane: f.controlPlane,
		Token: f.token, DataDir: f.dataDir, WorkloadAPI: f.workloadAPI}, nil
}

// accessLog turns the access log flags into a proxy's proxyrun.AccessLog.
func (d dataPlaneFlags) accessLog(s streams, path, format string) proxyrun.AccessLog {
	return proxyrun.AccessLog{Path: path, Format: format, Buffer: d.logBuffer, SampleEvery: d.logSample, Stdout: s.out}
}

// proxyExit gives a proxy's Run error its exit code: usage for options that do not go together.
func proxyExit(err error) error {
	if err == nil {
		return nil
	}
	var u proxyrun.UsageError
	if errors.As(err, &u) {
		return withCode(ExitUsage, err)
	}
	return withCode(ExitError, err)
}

// dataPlaneFlags are the cost knobs a gateway and a sidecar share: how the access log is written and
// whether the admin listener serves /debug/pprof.
type dataPlaneFlags struct {
	logBuffer int
	logSample int
	pprof     bool
}

func (d *dataPlaneFlags) register(fl *pflag.FlagSet) {
	fl.IntVar(&d.logBuffer, "access-log-buffer", 1<<20, "bytes of access log lines held for batched writes off the request path (written as soon as the writer runs, and on SIGHUP and at shutdown; lines that do not fit are dropped and counted); 0 writes each line on the request path")
	fl.IntVar(&d.logSample, "access-log-sample", 1, "log one in N allowed, successful requests (denials and failures are always logged); --access-log off turns the log off")
	fl.BoolVar(&d.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on the admin address (off by default: a profile shows request paths and costs CPU)")
}

// The connection limits default to those of a proxy run on its own; `egret up` derives smaller ones
// from its file descriptor limit.
func addSidecarLimitFlags(fl *pflag.FlagSet, l *proxyrun.ConnLimits) {
	fl.IntVar(&l.Max, "max-connections", proxyrun.DefaultSidecarMaxConns, "connections the sidecar's listener holds at once; more wait in the kernel's backlog (0 = no limit)")
}

func addGatewayLimitFlags(fl *pflag.FlagSet, l *proxyrun.ConnLimits) {
	fl.IntVar(&l.Max, "max-connections", proxyrun.DefaultGatewayMaxConns, "connections each listener holds at once; more wait in the kernel's backlog (0 = no limit)")
	fl.IntVar(&l.PerSource, "max-connections-per-source", 0, "connections one source IP may hold on a listener; more are closed (0 = no limit)")
}
