package lockdown

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"egret.dev/egret/internal/intercept"
)

// Sandbox is one workload's network namespace and the veth that links it to the host.
type Sandbox struct {
	// Workload is namespace/name.
	Workload string
	// Name is the namespace's name as `ip netns` knows it; Path its file.
	Name, Path string
	// HostLink is the host end of the veth; the namespace end is eth0.
	HostLink string
	// HostAddr and NSAddr are the two ends' addresses (a /30 in 169.254.64.0/18).
	HostAddr, NSAddr netip.Prefix
}

// Supported returns nil if Create can work here, or an error that says what is missing: Linux, root
// (namespaces need CAP_SYS_ADMIN, links and rules CAP_NET_ADMIN), iproute2's ip, nf_tables.
func Supported() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the network lockdown needs root (it creates network namespaces, veths and nftables rules); this is uid %d", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the network lockdown needs `ip` from iproute2 (apt-get install iproute2)")
	}
	if err := intercept.Supported(); err != nil {
		return err
	}
	return nil
}

// Create makes the namespace of workload namespace/name: loopback up, a veth to the host (eth0 inside,
// with the default route, so that connects to any address reach the nat hook where the sidecar's
// redirect takes them), and the filter table that refuses everything not bound for loopback. It
// records this process as the namespace's owner. A namespace of the same name owned by a live process
// is an error; one left by a dead process is removed first.
func Create(namespace, name string) (*Sandbox, error) {
	nsName := NameFor(namespace, name)
	s := &Sandbox{Workload: describe(namespace, name), Name: nsName, Path: Path(nsName), HostLink: hostLinkFor(nsName)}
	if exists(nsName) {
		if pid, alive := owner(nsName); alive && pid != os.Getpid() {
			return nil, fmt.Errorf("lockdown: workload %s already has its namespace %s, run by process %d (another egret up?)", s.Workload, nsName, pid)
		}
		if err := removeNamed(nsName); err != nil {
			return nil, err
		}
	}
	if err := writeOwner(nsName, s.Workload); err != nil {
		return nil, err
	}
	if err := s.build(); err != nil {
		return nil, errors.Join(fmt.Errorf("lockdown: workload %s: %w", s.Workload, err), s.Remove())
	}
	return s, nil
}

func (s *Sandbox) build() error {
	if err := ip("netns", "add", s.Name); err != nil {
		return err
	}
	if err := ip("-n", s.Name, "link", "set", "lo", "up"); err != nil {
		return err
	}
	// The filter goes in before the link exists, so there is no moment when the namespace has a way out.
	if err := installFilter(s.Path); err != nil {
		return err
	}
	// A leftover host link (its namespace deleted by hand) would block the name.
	_ = ip("link", "del", s.HostLink)
	if err := ip("link", "add", s.HostLink, "type", "veth", "peer", "name", nsLink, "netns", s.Name); err != nil {
		return err
	}
	used, err := hostAddrs()
	if err != nil {
		return err
	}
	start := firstSlot(s.Name)
	for i := 0; i < slots; i++ {
		h, n := slotAddrs(start + i)
		if !used[h.Addr()] && !used[n.Addr()] {
			s.HostAddr, s.NSAddr = h, n
			break
		}
	}
	if !s.HostAddr.IsValid() {
		return fmt.Errorf("no free /30 left in %s", linkNet)
	}
	for _, args := range [][]string{
		{"link", "set", s.HostLink, "up"},
		{"addr", "add", s.HostAddr.String(), "dev", s.HostLink},
		{"-n", s.Name, "link", "set", nsLink, "up"},
		{"-n", s.Name, "addr", "add", s.NSAddr.String(), "dev", nsLink},
		{"-n", s.Name, "route", "add", "default", "via", s.HostAddr.Addr().String(), "dev", nsLink},
	} {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes the namespace (and with it the veth, both ends, and every rule inside) and its owner
// file. Removing what is already gone is not an error.
func (s *Sandbox) Remove() error {
	return removeNamed(s.Name)
}

func removeNamed(nsName string) error {
	var errs []error
	if exists(nsName) {
		if err := ip("netns", "del", nsName); err != nil {
			errs = append(errs, err)
		}
	}
	// Deleting the namespace deletes its veth end and so the pair; a host end whose peer was moved
	// elsewhere would survive, so it is deleted by name too.
	if linkExists(hostLinkFor(nsName)) {
		if err := ip("link", "del", hostLinkFor(nsName)); err != nil && linkExists(hostLinkFor(nsName)) {
			errs = append(errs, err)
		}
	}
	removeOwner(nsName)
	return errors.Join(errs...)
}

// RemoveStale deletes every egret namespace (and host link) whose owner is not a live process: what an
// egret up killed with SIGKILL left. Namespaces of another running egret up are left alone. It returns
// the names removed.
func RemoveStale() ([]string, error) {
	return removeStale(func(string) bool { return true })
}

// removeStale is RemoveStale for the namespaces that match wanted (tests keep to their own).
func removeStale(wanted func(nsName string) bool) ([]string, error) {
	var removed []string
	var errs []error
	seen := map[string]bool{}
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), Prefix) {
			seen[e.Name()] = true
		}
	}
	owners, _ := os.ReadDir(stateDir)
	for _, e := range owners {
		if strings.HasPrefix(e.Name(), Prefix) {
			seen[e.Name()] = true
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if n := l.Name(); strings.HasPrefix(n, hostLinkPrefix) && len(n) == len(hostLinkPrefix)+10 {
			seen[Prefix+n[len(hostLinkPrefix):]] = true
		}
	}
	for nsName := range seen {
		if !wanted(nsName) {
			continue
		}
		if _, alive := owner(nsName); alive {
			continue
		}
		if err := removeNamed(nsName); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, nsName)
	}
	return removed, errors.Join(errs...)
}

// Lookup returns the path of workload namespace/name's namespace if a live egret up runs it.
func Lookup(namespace, name string) (string, error) {
	nsName := NameFor(namespace, name)
	if !exists(nsName) {
		return "", fmt.Errorf("%w for workload %s (looked for %s): egret up gives one only to a Workload with sidecar.mode: transparent, when it runs as root on Linux; is egret up running it?", ErrNoNamespace, describe(namespace, name), Path(nsName))
	}
	if _, alive := owner(nsName); !alive {
		return "", fmt.Errorf("%w for workload %s: %s is left from an egret up that is gone (the next egret up removes it)", ErrNoNamespace, describe(namespace, name), Path(nsName))
	}
	return Path(nsName), nil
}

func exists(nsName string) bool {
	_, err := os.Stat(Path(nsName))
	return err == nil
}

func linkExists(name string) bool {
	_, err := os.Lstat("/sys/class/net/" + name)
	return err == nil
}

// hostAddrs are the IPv4 addresses on the host's interfaces.
func hostAddrs() (map[netip.Addr]bool, error) {
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip addr show: %w", err)
	}
	used := map[netip.Addr]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil {
					used[p.Addr()] = true
				}
			}
		}
	}
	return used, nil
}

// ip runs iproute2's ip and returns its stderr in the error.
func ip(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// HostEnd is the host end's address of the veth of the namespace at path: the namespace's default
// gateway, and an address on this machine that the namespace would reach if its rules let it.
func HostEnd(path string) (netip.Addr, error) {
	var addr netip.Addr
	err := Do(path, func() error {
		ifc, err := net.InterfaceByName(nsLink)
		if err != nil {
			return err
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && linkNet.Contains(p.Addr()) {
				// The namespace holds .2 of its /30 and the host .1.
				addr = p.Masked().Addr().Next()
				return nil
			}
		}
		return fmt.Errorf("no link address on %s yet", nsLink)
	})
	return addr, err
}
