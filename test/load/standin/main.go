// Command standin is a local HTTPS server that stands in for an external host (e.g. www.google.com)
// in load runs, with a certificate from its own freshly made CA so the caller can verify it.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"egret.dev/egret/internal/standin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down, letting requests in flight finish for a few seconds.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to listen on")
	host := fs.String("host", "www.google.com", "the host name the certificate is for (localhost and the loopback addresses are added)")
	caOut := fs.String("ca-out", "", "write the CA certificate (PEM) here, to verify the stand-in with")
	bodySize := fs.Int("body-size", 25, "bytes in each response body")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *caOut == "" {
		return errors.New("--ca-out is required")
	}
	if *bodySize < 0 || *bodySize > 1<<20 {
		return fmt.Errorf("--body-size must be 0..1048576, got %d", *bodySize)
	}
	ap, err := netip.ParseAddrPort(*listen)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("--listen %q: must be a loopback IP:port (127.0.0.0/8 or [::1])", *listen)
	}
	caPEM, cert, err := standin.Certificate(*host)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*caOut, caPEM, 0o644); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	body := []byte(strings.Repeat("x", *bodySize))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(body)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	srv.Protocols = &protocols

	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintln(stdout, ln.Addr().String())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}
