package identity

import (
	"context"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// WorkloadAPISource reads SVIDs and bundles from a SPIFFE Workload API (a SPIRE agent's socket);
// the agent rotates them and go-spiffe's X509Source picks up each update.
type WorkloadAPISource struct {
	*workloadapi.X509Source
}

// NewWorkloadAPISource connects to the Workload API at addr ("unix:///run/spire/agent.sock";
// empty means $SPIFFE_ENDPOINT_SOCKET) and waits for the first SVID or ctx's end.
func NewWorkloadAPISource(ctx context.Context, addr string) (*WorkloadAPISource, error) {
	var opts []workloadapi.X509SourceOption
	if addr != "" {
		opts = append(opts, workloadapi.WithClientOptions(workloadapi.WithAddr(addr)))
	}
	src, err := workloadapi.NewX509Source(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("identity: workload API %s: %w", addr, err)
	}
	return &WorkloadAPISource{X509Source: src}, nil
}
