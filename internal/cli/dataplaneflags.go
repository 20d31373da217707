package cli

import (
	"github.com/spf13/pflag"
)

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
