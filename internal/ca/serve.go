package ca

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"egret.dev/egret/internal/h2limit"
	"egret.dev/egret/internal/ownlisteners"
)

// ServeParams say where the enrollment endpoint listens and whose certificate it presents.
type ServeParams struct {
	// Listen is the TCP address (host:port) to serve TLS on; the host goes into the server's certificate.
	Listen string
	// TrustDomain is the trust domain of the server's own ID, spiffe://<td>/egret/controlplane.
	TrustDomain spiffeid.TrustDomain
	Log         *slog.Logger
}

// ServeEnrollment runs the enrollment endpoint alone (join-token enrollment and SVID renewal over TLS,
// egret ca serve) until ctx ends.
func (c *CA) ServeEnrollment(ctx context.Context, p ServeParams) error {
	host, _, err := net.SplitHostPort(p.Listen)
	if err != nil {
		return err
	}
	tlsConf, err := c.ServerTLSConfig(ServerTLSParams{TrustDomain: p.TrustDomain, Hosts: []string{host}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", p.Listen)
	if err != nil {
		return err
	}
	ln = ownlisteners.Default.Track(ln, "CA enrollment")
	srv := &http.Server{Handler: NewEnrollHandler(c), TLSConfig: tlsConf, ReadHeaderTimeout: 10 * time.Second}
	if err := h2limit.Configure(srv, h2limit.Limits{MaxConcurrentStreams: 16}, p.Log); err != nil {
		ln.Close()
		return err
	}
	p.Log.Info("enrollment endpoint listening", "addr", ln.Addr().String(), "root_sha256", c.RootHash())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
