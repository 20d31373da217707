package cli

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"egret.dev/egret/internal/accesslog"
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

// openAccessLog opens the access log as path, format and the flags say; path "off" means none (nil).
// The closer flushes what is pending and closes the file; SIGHUP flushes until then.
func (d *dataPlaneFlags) openAccessLog(s streams, log *slog.Logger, path, format, planEncoding string) (*accesslog.Logger, func(), error) {
	if path == "off" {
		log.Info("access log off (--access-log off)")
		return nil, func() {}, nil
	}
	opts := accesslog.Options{
		Buffer:      d.logBuffer,
		SampleEvery: d.logSample,
		OnDrop: func(n uint64) {
			log.Warn("access log lines dropped: the buffer was full (raise --access-log-buffer)", "dropped", n)
		},
	}
	access, closeFile, err := accessLog(s, path, format, planEncoding, opts)
	if err != nil {
		return nil, nil, err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				_ = access.Flush()
			case <-stop:
				return
			}
		}
	}()
	return access, func() {
		signal.Stop(hup)
		close(stop)
		<-done
		_ = access.Close()
		if n := access.Dropped(); n > 0 {
			log.Warn("access log lines dropped in all", "dropped", n)
		}
		_ = closeFile()
	}, nil
}

// admin adds /debug/pprof/ to an admin handler when --pprof is on.
func (d *dataPlaneFlags) admin(h http.Handler) http.Handler {
	if !d.pprof {
		return h
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}
