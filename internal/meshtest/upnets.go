package meshtest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// UpNets are the loopback nets one `egret up` hands its gateways (NET.1, NET.2, ... on the plan's
// target ports, 8443, with admin 15000 and readiness 15021) and sidecars (NET.i:15001). Those ports are
// fixed by the resources, so each up gets nets of its own: two test binaries (or a developer's up)
// running at once never share an address.
type UpNets struct{ Gateway, Sidecar string }

// FreeUpNets picks 127.X.Y and 127.X.Y+1 at random (X in 100..254, away from the defaults 127.0.1 and
// 127.0.2 and from the addresses tests name themselves), and keeps the pair only when every port up
// will bind on their first addresses is free now.
func FreeUpNets(t *testing.T) UpNets {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		x, y := 100+rand.IntN(155), 2*rand.IntN(127)
		n := UpNets{Gateway: fmt.Sprintf("127.%d.%d", x, y), Sidecar: fmt.Sprintf("127.%d.%d", x, y+1)}
		if n.free() {
			return n
		}
	}
	t.Fatal("no free loopback nets for egret up after 50 tries")
	return UpNets{}
}

func (n UpNets) free() bool {
	var addrs []string
	for i := 1; i <= 4; i++ {
		for _, port := range []int{8443, 15000, 15021} {
			addrs = append(addrs, fmt.Sprintf("%s.%d:%d", n.Gateway, i, port))
		}
		addrs = append(addrs, n.SidecarAddr(i))
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}

// Args are up's flags for these nets.
func (n UpNets) Args() []string {
	return []string{"--gateway-net", n.Gateway, "--sidecar-net", n.Sidecar}
}

// GatewayIP is the address of the i-th gateway (1-based, in gateway ID order).
func (n UpNets) GatewayIP(i int) string { return fmt.Sprintf("%s.%d", n.Gateway, i) }

// SidecarAddr is where the i-th explicit sidecar without sidecar.listen listens (1-based, in
// namespace/name order).
func (n UpNets) SidecarAddr(i int) string { return fmt.Sprintf("%s.%d:15001", n.Sidecar, i) }
