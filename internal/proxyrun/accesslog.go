package proxyrun

import (
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"egret.dev/egret/internal/accesslog"
)

// AccessLog says where and how a proxy writes its access log.
type AccessLog struct {
	// Path is a file, "-" or "" for Stdout, "off" for no log.
	Path string
	// Format is JSON or TEXT; "" is the mesh's encoding, else JSON.
	Format string
	// Buffer is bytes of lines held for batched writes (0 writes each line on the request path);
	// SampleEvery logs one in N allowed, successful requests.
	Buffer, SampleEvery int
	Stdout              io.Writer
}

// Open opens the access log (nil when Path is "off"); planEncoding is the mesh's accessLogEncoding.
// The closer flushes what is pending and closes the file; SIGHUP flushes until then.
func (a AccessLog) Open(log *slog.Logger, planEncoding string) (*accesslog.Logger, func(), error) {
	if a.Path == "off" {
		log.Info("access log off (--access-log off)")
		return nil, func() {}, nil
	}
	format := a.Format
	if format == "" {
		format = planEncoding
	}
	if format == "" {
		format = "JSON"
	}
	lf, err := accesslog.ParseFormat(format)
	if err != nil {
		return nil, nil, UsageError{Err: err}
	}
	opts := accesslog.Options{
		Buffer:      a.Buffer,
		SampleEvery: a.SampleEvery,
		OnDrop: func(n uint64) {
			log.Warn("access log lines dropped: the buffer was full (raise --access-log-buffer)", "dropped", n)
		},
	}
	var access *accesslog.Logger
	closeFile := func() error { return nil }
	if a.Path == "-" || a.Path == "" {
		out := a.Stdout
		if out == nil {
			out = os.Stdout
		}
		access = accesslog.NewWith(out, lf, opts)
	} else {
		file, err := os.OpenFile(a.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, err
		}
		access, closeFile = accesslog.NewWith(file, lf, opts), file.Close
	}
	stop := flushOnHangup(access)
	return access, func() {
		stop()
		_ = access.Close()
		if n := access.Dropped(); n > 0 {
			log.Warn("access log lines dropped in all", "dropped", n)
		}
		_ = closeFile()
	}, nil
}

// flushOnHangup flushes the log on every SIGHUP until the returned stop is called.
func flushOnHangup(access *accesslog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				_ = access.Flush()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(quit)
		<-done
	}
}
