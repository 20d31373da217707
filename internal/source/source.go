// Package source names what the control plane reads resources from: a directory of files
// (source/file) or the custom resources of a Kubernetes cluster (source/kube). Both produce the same
// api.Snapshot, decoded, defaulted and validated by the same code, so `egret validate` and the
// controller judge a resource alike.
package source

import (
	"context"

	"egret.dev/egret/internal/api"
)

// Source loads the current resources. Like file.LoadContext, a non-nil error that is an api.Problems
// comes with the snapshot of everything that did decode; any other error means there is no snapshot.
type Source interface {
	Load(ctx context.Context) (*api.Snapshot, error)
}

// Watched is a Source that says when to load again: Changed receives (coalesced) after the resources
// may have changed.
type Watched interface {
	Source
	Changed() <-chan struct{}
}
