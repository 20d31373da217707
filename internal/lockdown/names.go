package lockdown

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
)

const (
	// Prefix starts the name of every namespace this package creates; a later run finds leftovers by it.
	Prefix = "egret-"
	// hostLinkPrefix starts the host end of every veth this package creates.
	hostLinkPrefix = "egh"
	// nsLink is the name of the veth end inside the workload's namespace.
	nsLink = "eth0"
	// FilterTable is the nftables table (family inet) in the workload's namespace that refuses
	// everything but loopback; the sidecar's redirect lives in intercept.TableName beside it.
	FilterTable = "egret-lockdown"
	// netnsDir is where `ip netns` keeps its namespace files.
	netnsDir = "/var/run/netns"
	// stateDir holds one owner file per namespace: which egret up process runs it.
	stateDir = "/run/egret/netns"
)

// ErrNoNamespace says a workload has no namespace: egret up does not run it in lockdown.
var ErrNoNamespace = errors.New("no network namespace")

// linkNet is where link addresses come from: a /30 per workload (host .1, namespace .2) inside
// 169.254.64.0/18, link-local space that is never routed off a link and stays clear of 169.254.169.254.
var linkNet = netip.MustParsePrefix("169.254.64.0/18")

// slots is the number of /30s in linkNet.
const slots = 1 << (32 - 18 - 2)

// NameFor is the namespace of workload namespace/name: deterministic, so `egret exec` and the next
// `egret up` find it, and short enough that the host link name (egh + hash) fits in 15 bytes.
func NameFor(namespace, name string) string {
	return Prefix + hash(namespace, name)
}

func hash(namespace, name string) string {
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	return hex.EncodeToString(sum[:5])
}

// Path is the namespace file of the namespace called name.
func Path(name string) string { return netnsDir + "/" + name }

func hostLinkFor(nsName string) string { return hostLinkPrefix + nsName[len(Prefix):] }

// slotAddrs are the host and namespace addresses (as /30 prefixes) of slot i.
func slotAddrs(i int) (host, ns netip.Prefix) {
	b := linkNet.Addr().As4()
	off := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	off += uint32(i%slots) * 4
	at := func(n uint32) netip.Addr {
		v := off + n
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return netip.PrefixFrom(at(1), 30), netip.PrefixFrom(at(2), 30)
}

// firstSlot is where the search for a free /30 starts for a namespace: spread by its hash, so two runs
// of egret up with different workloads rarely try the same one.
func firstSlot(nsName string) int {
	var v int
	for _, c := range []byte(nsName[len(Prefix):]) {
		v = v*31 + int(c)
	}
	if v < 0 {
		v = -v
	}
	return v % slots
}

func describe(namespace, name string) string { return fmt.Sprintf("%s/%s", namespace, name) }
