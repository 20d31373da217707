package intercept

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/google/nftables"
)

// capNetAdmin is CAP_NET_ADMIN's bit in the capability sets (linux/capability.h).
const capNetAdmin = 12

// host is what Supported inspects; tests replace it to see every verdict.
type host struct {
	// effectiveCaps returns the process's effective capability set.
	effectiveCaps func() (uint64, error)
	// probeNFTables performs a harmless nf_tables request.
	probeNFTables func() error
}

func realHost() host {
	return host{effectiveCaps: effectiveCaps, probeNFTables: probeNFTables}
}

// Supported returns nil if Install can work here, or an error wrapping ErrUnsupported that says what
// is missing: root / CAP_NET_ADMIN, or nf_tables in the kernel.
func Supported() error { return realHost().supported() }

func (h host) supported() error {
	caps, err := h.effectiveCaps()
	if err != nil {
		return fmt.Errorf("%w: cannot read this process's capabilities: %v", ErrUnsupported, err)
	}
	if caps&(1<<capNetAdmin) == 0 {
		return fmt.Errorf("%w: transparent mode needs root or CAP_NET_ADMIN to install nftables rules and set socket marks (uid %d has neither); run the sidecar as root, grant CAP_NET_ADMIN, or use explicit mode", ErrUnsupported, os.Geteuid())
	}
	if err := h.probeNFTables(); err != nil {
		if errors.Is(err, ErrUnsupported) {
			return err
		}
		return fmt.Errorf("%w: nf_tables is unavailable: %v", ErrUnsupported, err)
	}
	return nil
}

// effectiveCaps reads CapEff from /proc/self/status, the one place that reports capabilities
// without a libcap dependency.
func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

func probeNFTables() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	if _, err := c.ListTablesOfFamily(nftables.TableFamilyINet); err != nil {
		return explain("list nftables tables", err)
	}
	return nil
}
