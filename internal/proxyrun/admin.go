package proxyrun

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"egret.dev/egret/internal/ownlisteners"
)

// Admin is a set of running admin HTTP servers.
type Admin []*http.Server

// ServeAdmin starts an HTTP server for each non-empty address; a listener that cannot open is logged.
func ServeAdmin(log *slog.Logger, handlers map[string]http.Handler) Admin {
	var out Admin
	for addr, h := range handlers {
		if addr == "" {
			continue
		}
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
		out = append(out, srv)
		go func() {
			ln, err := net.Listen("tcp", addr)
			if err == nil {
				err = srv.Serve(ownlisteners.Default.Track(ln, "admin"))
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("admin server", "address", addr, "err", err)
			}
		}()
	}
	return out
}

// Close closes every server.
func (a Admin) Close() {
	for _, srv := range a {
		_ = srv.Close()
	}
}

// WithPprof adds Go's profiler at /debug/pprof/ to an admin handler when on is set.
func WithPprof(h http.Handler, on bool) http.Handler {
	if !on {
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
