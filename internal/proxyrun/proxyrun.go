// Package proxyrun holds what the gateway and the sidecar processes both start from: their identity
// source, their config (a file or the control plane's delta xDS stream), access log, admin listeners
// and connection limits.
package proxyrun

import (
	"context"
	"errors"
	"log/slog"

	"egret.dev/egret/internal/identity"
)

// UsageError marks an error in how a proxy was configured (options that do not go together), as
// opposed to one met while running; the CLI exits with its usage code for it.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usage(msg string) error { return UsageError{Err: errors.New(msg)} }

// Identity says where a proxy's SVID comes from: files (from `egret ca issue`), a join token and the
// control plane's address (enrollment, then renewal at half life), or a SPIFFE Workload API socket.
type Identity struct {
	Cert, Key, Bundle string
	// ControlPlane is the control plane's TLS address; with it the config streams from there too.
	ControlPlane string
	Token        string
	// DataDir keeps the enrolled SVID (key 0600) so a restart renews it without a new token.
	DataDir     string
	WorkloadAPI string
}

// Open opens the identity source; close it when done.
func (f Identity) Open(ctx context.Context, log *slog.Logger) (identity.Source, func() error, error) {
	n := 0
	for _, set := range []bool{f.Cert != "" || f.Key != "" || f.Bundle != "", f.ControlPlane != "", f.WorkloadAPI != ""} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return nil, nil, usage("name exactly one identity source: --cert/--key/--bundle, --control-plane with --token, or --workload-api")
	case f.ControlPlane != "":
		if f.Token == "" && f.DataDir == "" {
			return nil, nil, usage("--control-plane needs --token (or --identity-dir holding an earlier SVID)")
		}
		src, err := identity.NewClientSource(ctx, identity.Params{Address: f.ControlPlane, Token: f.Token, DataDir: f.DataDir, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		return src, src.Close, nil
	case f.WorkloadAPI != "":
		src, err := identity.NewWorkloadAPISource(ctx, f.WorkloadAPI)
		if err != nil {
			return nil, nil, err
		}
		return src, src.Close, nil
	default:
		if f.Cert == "" || f.Key == "" || f.Bundle == "" {
			return nil, nil, usage("--cert, --key and --bundle go together")
		}
		src, err := identity.LoadFileSource(f.Cert, f.Key, f.Bundle)
		if err != nil {
			return nil, nil, err
		}
		return src, func() error { return nil }, nil
	}
}
