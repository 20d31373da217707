package netnstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOnlyPrivateTestRangesAreAccepted(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"10.233.0.1/24", true},
		{"fd00:e9e7::1/64", true},
		{"10.0.0.0/7", false},
		{"192.168.1.1/24", false},
		{"127.0.0.2/8", false},
		{"2001:db8::1/64", false},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			err := AddAddr(&NS{name: "unused"}, "unused", netip.MustParsePrefix(tc.prefix))
			refused := err != nil && strings.Contains(err.Error(), "outside 10.0.0.0/8 and fd00::/8")
			if refused == tc.ok {
				t.Errorf("AddAddr(%s): err = %v, want accepted=%v", tc.prefix, err, tc.ok)
			}
		})
	}
}

func TestNamespaceLivesExactlyAsLongAsItsTest(t *testing.T) {
	RequireRoot(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		n := New(t)
		name = n.Name()
		if !listed(t, name) {
			t.Fatalf("namespace %s missing during its test", name)
		}
	})
	if listed(t, name) {
		t.Errorf("namespace %s still exists after its test ended", name)
	}
}

// TestNamespaceIsDeletedWhenItsTestFails runs a deliberately failing test in a child process and
// checks that the namespace it created is gone afterwards.
func TestNamespaceIsDeletedWhenItsTestFails(t *testing.T) {
	if os.Getenv("NETNSTEST_PROBE") == "fail" {
		n := New(t)
		fmt.Printf("namespace=%s\n", n.Name())
		t.Fatal("deliberate failure")
	}
	RequireRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestNamespaceIsDeletedWhenItsTestFails$")
	cmd.Env = append(os.Environ(), "NETNSTEST_PROBE=fail")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "deliberate failure") {
		t.Fatalf("the probe should have failed: %v\n%s", err, out)
	}
	_, rest, ok := strings.Cut(string(out), "namespace=")
	if !ok {
		t.Fatalf("the probe printed no namespace:\n%s", out)
	}
	name := strings.Fields(rest)[0]
	if listed(t, name) {
		t.Errorf("namespace %s survived its failed test", name)
	}
}

func listed(t *testing.T, name string) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

func TestDoRunsInsideTheNamespaceOnly(t *testing.T) {
	RequireRoot(t)
	n := New(t)
	var st syscall.Stat_t
	if err := syscall.Stat(n.Path(), &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	var inside string
	if err := n.Do(func() (err error) {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside != want {
		t.Errorf("inside Do: namespace %s, want %s", inside, want)
	}
	outside, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if outside == want {
		t.Errorf("the process itself moved into the test namespace")
	}
	ifaces, err := interfacesIn(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("a fresh namespace has interfaces %v, want [lo]", ifaces)
	}
}

func interfacesIn(n *NS) ([]string, error) {
	var names []string
	err := n.Do(func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return err
	})
	return names, err
}

func TestDoTurnsAPanicIntoAnError(t *testing.T) {
	RequireRoot(t)
	n := New(t)
	err := n.Do(func() error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v, want an error carrying the panic", err)
	}
	if err := n.Do(func() error { return errors.New("plain") }); err == nil || err.Error() != "plain" {
		t.Fatalf("got %v, want fn's own error", err)
	}
}

func TestVethCarriesTrafficBetweenNamespaces(t *testing.T) {
	RequireRoot(t)
	a, b := New(t), New(t)
	v := AddVeth(t, a, b,
		[]netip.Prefix{netip.MustParsePrefix("10.234.0.1/24"), netip.MustParsePrefix("fd00:e9e8::1/64")},
		[]netip.Prefix{netip.MustParsePrefix("10.234.0.2/24"), netip.MustParsePrefix("fd00:e9e8::2/64")})
	for _, addr := range []string{"10.234.0.2:7000", "[fd00:e9e8::2]:7000"} {
		t.Run(addr, func(t *testing.T) {
			l, err := b.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err == nil {
					io.WriteString(c, "hello from b")
					c.Close()
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := a.Dial(ctx, nil, "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, _ := io.ReadAll(c)
			if string(got) != "hello from b" {
				t.Errorf("got %q", got)
			}
		})
	}
	// The process's own namespace never sees the link.
	if _, err := net.InterfaceByName(v.A); err == nil {
		t.Errorf("veth end %s appeared in the caller's namespace", v.A)
	}
}

func TestStartRunsAProcessInsideTheNamespace(t *testing.T) {
	RequireRoot(t)
	a, b := New(t), New(t)
	v := AddVeth(t, a, b, nil, nil)
	cmd := exec.Command("ip", "-o", "link", "show")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := a.Run(cmd); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), v.A+"@") || strings.Contains(out.String(), v.B+"@") {
		t.Errorf("ip link inside %s:\n%s\nwant %s and not %s", a.Name(), out.String(), v.A, v.B)
	}
}

// TestRequireRoot runs this test binary as an unprivileged user and checks that RequireRoot skips
// with the documented reason, or fails under CI=true.
func TestRequireRoot(t *testing.T) {
	if os.Getenv("NETNSTEST_PROBE") == "1" {
		RequireRoot(t)
		t.Log("not skipped")
		return
	}
	RequireRoot(t) // running the probe as another user needs root itself
	bin := TestBinaryForOthers(t)
	for _, tc := range []struct {
		name    string
		ci      string
		wantErr bool
		want    string
	}{
		{"skips for an unprivileged user", "", false, "--- SKIP"},
		{"fails instead under CI=true", "true", true, "--- FAIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^TestRequireRoot$", "-test.v")
			cmd.Env = []string{"NETNSTEST_PROBE=1", "CI=" + tc.ci}
			cmd.Dir = filepath.Dir(bin)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantErr {
				t.Errorf("exit error = %v, want error %v", err, tc.wantErr)
			}
			for _, want := range []string{tc.want, skipReason, "not root"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
