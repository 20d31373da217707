package netnstest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// Capability bits from linux/capability.h: namespaces need CAP_SYS_ADMIN, links and rules CAP_NET_ADMIN.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

const skipReason = "needs root and CAP_NET_ADMIN for network namespaces; CI runs these as root"

// RequireRoot skips the test unless it can create network namespaces, run `ip` from iproute2, and talk
// to nf_tables. Under CI=true it fails instead, so a misconfigured runner cannot pass silently.
func RequireRoot(t testing.TB) {
	t.Helper()
	if why := missing(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %s (CI=true, so this is a failure, not a skip)", skipReason, why)
		}
		t.Skipf("%s: %s", skipReason, why)
	}
}

// missing names the first missing requirement, or returns "".
func missing() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("running as uid %d, not root", os.Geteuid())
	}
	caps, err := effectiveCaps()
	if err != nil {
		return "cannot read capabilities: " + err.Error()
	}
	if caps&(1<<capNetAdmin) == 0 || caps&(1<<capSysAdmin) == 0 {
		return "root without CAP_NET_ADMIN and CAP_SYS_ADMIN (a restricted container?)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "`ip` not found: install iproute2 (apt-get install iproute2)"
	}
	c, err := nftables.New()
	if err == nil {
		_, err = c.ListTablesOfFamily(nftables.TableFamilyINet)
	}
	if err != nil {
		return "nf_tables unavailable: " + err.Error()
	}
	return ""
}

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
	return 0, fmt.Errorf("no CapEff line in /proc/self/status")
}
