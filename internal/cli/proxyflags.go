package cli

import (
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"egret.dev/egret/internal/proxyrun"
)

// The flags a gateway and a sidecar share, bound straight to the fields of their Options: where the
// identity comes from, the access log and --pprof. (The connection limits default to those of a proxy
// run on its own; `egret up` derives smaller ones from its file descriptor limit.)

// proxyFlags binds the shared flags; configProtocol is the one that is not an Options field.
type proxyFlags struct {
	log            *proxyrun.AccessLog
	configProtocol string // how configs stream from the control plane
}

// The config protocol a proxy follows (--config-protocol): delta xDS. egret-config/v1, egret's own
// NDJSON stream, was removed; the flag stays so existing command lines keep working.
const (
	protocolXDS      = "xds"
	protocolConfigV1 = "egret-config/v1"
)

// bindProxyFlags binds where the SVID comes from (files from `egret ca issue`, a join token and the
// control plane's address, or a SPIFFE Workload API socket), the access log and --pprof.
func bindProxyFlags(cmd *cobra.Command, id *proxyrun.Identity, log *proxyrun.AccessLog, pprof *bool) *proxyFlags {
	p := &proxyFlags{log: log}
	fl := cmd.Flags()
	fl.StringVar(&id.Cert, "cert", "", "SVID certificate chain (PEM), with --key and --bundle")
	fl.StringVar(&id.Key, "key", "", "the SVID's private key (PEM)")
	fl.StringVar(&id.Bundle, "bundle", "", "the mesh trust bundle (PEM)")
	fl.Var((*addressList)(&id.ControlPlane), "control-plane", "enroll with and stream the config from the control plane at host:port (its TLS port, 15012) using --token; "+
		"several control planes sharing one data dir and config dir: repeat the flag or list them, a:15012,b:15012 (the proxy fails over in turn)")
	fl.StringVar(&id.Token, "token", "", "single-use join token from 'egret token create' (with --control-plane)")
	fl.StringVar(&id.DataDir, "identity-dir", "", "keep the enrolled SVID here (key 0600) so a restart renews it without a new token")
	fl.StringVar(&p.configProtocol, "config-protocol", protocolXDS, "how the config streams from --control-plane: "+protocolXDS+" (delta xDS over gRPC), the only protocol")
	fl.StringVar(&id.WorkloadAPI, "workload-api", "", "get the SVID from a SPIFFE Workload API socket (SPIRE), e.g. unix:///run/spire/agent.sock")
	fl.StringVar(&log.Path, "access-log", "-", "access log file (- for standard output, off for none)")
	fl.IntVar(&log.Buffer, "access-log-buffer", 1<<20, "bytes of access log lines held for batched writes off the request path (written as soon as the writer runs, and on SIGHUP and at shutdown; lines that do not fit are dropped and counted); 0 writes each line on the request path")
	fl.IntVar(&log.SampleEvery, "access-log-sample", 1, "log one in N allowed, successful requests (denials and failures are always logged); --access-log off turns the log off")
	fl.BoolVar(pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on the admin address (off by default: a profile shows request paths and costs CPU)")
	return p
}

// complete checks --config-protocol and sends the access log to standard output; it returns the
// proxy's logger.
func (p *proxyFlags) complete(s streams) (*slog.Logger, error) {
	switch p.configProtocol {
	case "", protocolXDS:
	case protocolConfigV1:
		return nil, usagef("--config-protocol %s was removed: proxies follow delta xDS (%s) only", protocolConfigV1, protocolXDS)
	default:
		return nil, usagef("--config-protocol %q: want %s", p.configProtocol, protocolXDS)
	}
	p.log.Stdout = s.out
	return s.log(), nil
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
