package cli

import (
	"errors"
	"fmt"

	"egret.dev/egret/internal/proxyrun"
)

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
