// Package xds distributes per-proxy configs from the control plane to gateways and sidecars: a
// versioned, per-proxy stream over HTTP/2 and mutual TLS, acknowledged or rejected by each proxy.
//
// The protocol, egret-config/v1:
//
//   - A proxy opens GET /v1/config/stream on the control plane's TLS port (15012), presenting its SVID.
//     The control plane identifies it by the SPIFFE ID of its verified certificate only, and answers a
//     stream of newline-delimited JSON Messages: the proxy's current config at once, then a new Message
//     whenever that proxy's config changes. Versions are content hashes, so an unchanged config is
//     never sent twice. A proxy the plan does not know gets 403 with the reason.
//   - After applying (or refusing) a version, the proxy POSTs an Ack to /v1/config/ack: Error empty
//     means ACK, non-empty means NACK with that error. A proxy keeps serving its last good config.
//   - The stream carries a heartbeat Message (Kind "heartbeat") every 15 s so both ends notice a dead
//     peer; a proxy that loses the stream reconnects with backoff and is sent its current config again.
package xds

import (
	"time"

	"egret.dev/egret/internal/proxyconfig"
)

// Protocol is the name and version of the wire protocol, sent in every Message.
const Protocol = "egret-config/v1"

// Paths on the control plane's TLS port.
const (
	StreamPath = "/v1/config/stream"
	AckPath    = "/v1/config/ack"
)

// Message kinds.
const (
	KindGateway   = "gateway"
	KindSidecar   = "sidecar"
	KindHeartbeat = "heartbeat"
)

// Heartbeat is how often an idle stream carries a heartbeat.
const Heartbeat = 15 * time.Second

// Message is one line of the stream.
type Message struct {
	Protocol string               `json:"protocol"`
	Kind     string               `json:"kind"`
	Version  string               `json:"version,omitempty"`
	Gateway  *proxyconfig.Gateway `json:"gateway,omitempty"`
	Sidecar  *proxyconfig.Sidecar `json:"sidecar,omitempty"`
}

// Ack is a proxy's answer to a version: Error empty is an ACK, otherwise a NACK.
type Ack struct {
	Version string `json:"version"`
	Error   string `json:"error,omitempty"`
}

// ProxyStatus is what the control plane knows of one connected (or once connected) proxy.
type ProxyStatus struct {
	Identity string `json:"identity"`
	Kind     string `json:"kind"`
	// Protocol is how the proxy is connected: egret-config/v1 (empty) or xds-delta/v3.
	Protocol   string    `json:"protocol,omitempty"`
	Name       string    `json:"name"`
	Cluster    string    `json:"cluster"`
	Sent       string    `json:"sent,omitempty"`
	Acked      string    `json:"acked,omitempty"`
	Nack       string    `json:"nack,omitempty"`
	Connected  bool      `json:"connected"`
	LastSeen   time.Time `json:"lastSeen"`
	CertExpiry time.Time `json:"certExpiry"`
	// Types is the state of each resource type, over delta xDS.
	Types []TypeStatus `json:"types,omitempty"`
}

// State summarizes a proxy's status like istioctl proxy-status: SYNCED when the last version sent was
// acknowledged, NACKED when it was refused, STALE while an answer is awaited.
func (p ProxyStatus) State() string {
	switch {
	case p.Nack != "":
		return "NACKED"
	case p.Sent != "" && p.Sent == p.Acked:
		return "SYNCED"
	default:
		return "STALE"
	}
}
