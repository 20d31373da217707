package xds

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// configDigest is the version of a proxy's config: an order-independent digest of the type, name and
// version of every resource it holds, kept up to date one resource at a time (toggle it out with its
// old version, in with its new). The client and the control plane compute it alike, so the version a
// proxy reports applying can be compared with the one the control plane serves it (VersionFor).
type configDigest [8]byte

func (d *configDigest) toggle(typ, name, version string) {
	h := sha256.Sum256([]byte(typ + "\x00" + name + "\x00" + version))
	x := binary.LittleEndian.Uint64(d[:]) ^ binary.LittleEndian.Uint64(h[:8])
	binary.LittleEndian.PutUint64(d[:], x)
}

func (d configDigest) String() string { return hex.EncodeToString(d[:]) }

// VersionFor is the version of the config the control plane serves the proxy holding SPIFFE ID id: the
// one its client reports once it has every resource (Message.Version). An identity the plan does not
// know is ErrUnknownProxy.
func (d *DeltaServer) VersionFor(id string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ref, ok := d.known[id]
	if !ok {
		return "", fmt.Errorf("%s: %w", id, ErrUnknownProxy)
	}
	var sum configDigest
	add := func(c *deltaCache, only string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for name, r := range c.res {
			if only == "" || name == only {
				sum.toggle(c.typ, name, r.version)
			}
		}
	}
	if ref.kind == KindSidecar {
		for _, t := range SidecarTypes {
			only := ""
			if t == TypeWorkload {
				only = id // a sidecar is sent its own Workload only
			}
			add(d.sidecars[t], only)
		}
	} else {
		for _, t := range GatewayTypes {
			add(d.gateways[ref.gatewayID][t], "")
		}
	}
	return sum.String(), nil
}
