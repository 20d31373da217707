// Package xds distributes per-proxy configs from the control plane to gateways and sidecars as delta
// xDS (the aggregated discovery service, ADS) over gRPC and mutual TLS, with egret's own resource types
// (egret.config.v1.*; see resources.go and docs/controlplane.md).
//
//   - A proxy opens one DeltaAggregatedResources stream on the control plane's TLS port (15012),
//     presenting its SVID, and subscribes to its kind's types (SidecarTypes, GatewayTypes). The control
//     plane identifies it by the SPIFFE ID of its verified certificate only; a proxy the plan does not
//     know is refused with PermissionDenied.
//   - Each resource has its own version (a content hash); a change sends the changed and removed
//     resources only, and a reconnecting proxy reports the versions it holds so only what differs is sent.
//   - The proxy ACKs each response, or NACKs it with the error, and keeps serving its last good config;
//     a proxy that loses the stream reconnects with backoff (DeltaClient).
package xds

import (
	"errors"
	"time"

	"egret.dev/egret/internal/proxyconfig"
)

// Proxy kinds.
const (
	KindGateway = "gateway"
	KindSidecar = "sidecar"
)

// Heartbeat is how often an idle stream is checked: the client pings after twice this long.
const Heartbeat = 15 * time.Second

// Message is one proxy's whole config, assembled by the client from its resources.
type Message struct {
	Kind string `json:"kind"`
	// Version is the digest of the versions of every resource the config was assembled from
	// (DeltaServer.VersionFor is the one the control plane serves).
	Version string               `json:"version,omitempty"`
	Gateway *proxyconfig.Gateway `json:"gateway,omitempty"`
	Sidecar *proxyconfig.Sidecar `json:"sidecar,omitempty"`
}

// ErrUnknownProxy refuses an identity that no gateway or workload of the plan has.
var ErrUnknownProxy = errors.New("no gateway or workload in the plan has this identity")

// ProxyStatus is what the control plane knows of one connected (or once connected) proxy.
type ProxyStatus struct {
	Identity string `json:"identity"`
	Kind     string `json:"kind"`
	// Protocol is how the proxy is connected (xds-delta/v3).
	Protocol   string    `json:"protocol,omitempty"`
	Name       string    `json:"name"`
	Cluster    string    `json:"cluster"`
	Sent       string    `json:"sent,omitempty"`
	Acked      string    `json:"acked,omitempty"`
	Nack       string    `json:"nack,omitempty"`
	Connected  bool      `json:"connected"`
	LastSeen   time.Time `json:"lastSeen"`
	CertExpiry time.Time `json:"certExpiry"`
	// Types is the state of each resource type.
	Types []TypeStatus `json:"types,omitempty"`
}

// State summarizes a proxy's status like istioctl proxy-status: SYNCED when every type's last response
// was acknowledged, NACKED when one was refused, STALE while an answer is awaited. (Sent and Acked list
// versions, which repeat when contents do: the types' nonces decide.)
func (p ProxyStatus) State() string {
	if len(p.Types) > 0 {
		state := "SYNCED"
		for _, t := range p.Types {
			switch t.State() {
			case "NACKED":
				return "NACKED"
			case "STALE":
				state = "STALE"
			}
		}
		return state
	}
	switch {
	case p.Nack != "":
		return "NACKED"
	case p.Sent != "" && p.Sent == p.Acked:
		return "SYNCED"
	default:
		return "STALE"
	}
}
