package intercept

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is the conventional unprivileged uid; otherUID is a second one that the rules do not exempt.
const (
	nobody   = 65534
	otherUID = 65533
)

func TestBypassUID(t *testing.T) {
	b := newBed(t)
	p := testParams(b)
	uid := uint32(nobody)
	p.BypassUID = &uid
	r, err := Install(p)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	t.Cleanup(func() { r.Remove() })

	for _, tc := range []struct {
		name string
		uid  uint32
		want string
	}{
		{"a process running as the bypass uid reaches the destination directly", nobody, direct(dst4)},
		{"a process running as another uid is redirected", otherUID, viaProxy(dst4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := asUser(t, tc.uid, "dial "+dst4.String())
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := b.wl.Run(cmd); err != nil {
				t.Fatalf("helper as uid %d: %v: %s", tc.uid, err, out.String())
			}
			if got := strings.TrimSpace(out.String()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUnprivilegedUserGetsAClearError(t *testing.T) {
	b := newBed(t) // the helper runs inside the bed's namespace, so even a wrong answer touches nothing else
	for _, tc := range []struct {
		name, mode string
	}{
		{"Supported names the missing capability", "supported"},
		{"Install names the missing capability", "install"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := asUser(t, nobody, tc.mode)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := b.wl.Run(cmd); err != nil {
				t.Fatalf("helper: %v: %s", err, out.String())
			}
			got := out.String()
			for _, want := range []string{ErrUnsupported.Error(), "CAP_NET_ADMIN"} {
				if !strings.Contains(got, want) {
					t.Errorf("got %q, want it to mention %q", got, want)
				}
			}
		})
	}
	if ok, err := Installed(b.wl.Path()); err != nil || ok {
		t.Errorf("after the unprivileged Install: Installed = %v, %v; want false", ok, err)
	}
}

func TestSupportedVerdicts(t *testing.T) {
	const all = ^uint64(0)
	fine := func() error { return nil }
	for _, tc := range []struct {
		name    string
		h       host
		wantErr string // "" means supported
	}{
		{"root with nf_tables is supported", host{func() (uint64, error) { return all, nil }, fine}, ""},
		{"CAP_NET_ADMIN alone is enough", host{func() (uint64, error) { return 1 << capNetAdmin, nil }, fine}, ""},
		{"no CAP_NET_ADMIN says so", host{func() (uint64, error) { return 0, nil }, fine}, "needs root or CAP_NET_ADMIN"},
		{"unreadable capabilities say so", host{func() (uint64, error) { return 0, errors.New("no /proc") }, fine}, "cannot read this process's capabilities"},
		{"a kernel without nf_tables says so", host{
			func() (uint64, error) { return all, nil },
			func() error { return explain("list nftables tables", unix.EPROTONOSUPPORT) },
		}, "the kernel has no nf_tables"},
		{"any other nf_tables failure says nf_tables is unavailable", host{
			func() (uint64, error) { return all, nil },
			func() error { return errors.New("netlink: boom") },
		}, "nf_tables is unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.h.supported()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an ErrUnsupported mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestParamsRejectBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       Params
		wantErr string
	}{
		{"an invalid prefix", Params{ExcludeCIDRs: []netip.Prefix{{}}}, "ExcludeCIDRs[0]: not a valid prefix"},
		{"a v4-mapped prefix shorter than /96", Params{ExcludeCIDRs: []netip.Prefix{netip.MustParsePrefix("::ffff:0.0.0.0/80")}}, "at least /96"},
		{"port zero", Params{ExcludePorts: []uint16{443, 0}}, "ExcludePorts[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A namespace path that cannot exist: even if validation let bad input through, Install
			// could never touch the machine's own rules.
			tc.p.NetNS = "/nonexistent/egret-test-netns"
			_, err := Install(tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestParamsDefaultsAndNormalisation(t *testing.T) {
	p, err := Params{ExcludeCIDRs: []netip.Prefix{
		netip.MustParsePrefix("::ffff:10.1.2.3/120"),
		netip.MustParsePrefix("10.9.8.7/16"),
	}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if p.ProxyPort != DefaultProxyPort || p.BypassMark != DefaultBypassMark {
		t.Errorf("defaults = port %d mark %#x, want %d %#x", p.ProxyPort, p.BypassMark, DefaultProxyPort, DefaultBypassMark)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("10.9.0.0/16")}
	for i := range want {
		if p.ExcludeCIDRs[i] != want[i] {
			t.Errorf("ExcludeCIDRs[%d] = %s, want %s", i, p.ExcludeCIDRs[i], want[i])
		}
	}
}
