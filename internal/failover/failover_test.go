package failover

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func listen(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			got <- struct{}{}
			c.Close()
		}
	}()
	return ln.Addr().String(), got
}

// refused is a loopback address nothing listens on.
func refused(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func dialer(addrs []string) func(context.Context, int) (net.Conn, error) {
	return func(ctx context.Context, i int) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addrs[i])
	}
}

func TestDial(t *testing.T) {
	t.Run("a refused first address fails over to the next", func(t *testing.T) {
		live, got := listen(t)
		addrs := []string{refused(t), live}
		c, err := Dial(context.Background(), addrs, 0, dialer(addrs))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		<-got
	})
	t.Run("all refused names every address", func(t *testing.T) {
		a, b := refused(t), refused(t)
		_, err := Dial(context.Background(), []string{a, b}, 1, dialer([]string{a, b}))
		if err == nil || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
			t.Fatalf("err = %v, want both addresses named", err)
		}
		var fe *Error
		if !errors.As(err, &fe) || fe.Attempts() != 2 {
			t.Fatalf("err = %#v, want a failover Error with 2 attempts (the log's URX)", err)
		}
	})
	t.Run("one refused address is one attempt", func(t *testing.T) {
		a := refused(t)
		_, err := Dial(context.Background(), []string{a}, 0, dialer([]string{a}))
		var fe *Error
		if !errors.As(err, &fe) || fe.Attempts() != 1 {
			t.Fatalf("err = %#v, want a failover Error with 1 attempt (the log's UF)", err)
		}
	})
	t.Run("an ended context stops the walk", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := 0
		_, err := Dial(ctx, []string{"a", "b", "c"}, 0, func(ctx context.Context, _ int) (net.Conn, error) {
			calls++
			return nil, ctx.Err()
		})
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Fatalf("err %v after %d calls, want canceled after 1", err, calls)
		}
	})
	t.Run("no address is an error", func(t *testing.T) {
		if _, err := Dial(context.Background(), nil, 0, dialer(nil)); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestRotorTakesTurns(t *testing.T) {
	var r Rotor
	var got []int
	for range 5 {
		got = append(got, r.Start(2))
	}
	if want := []int{0, 1, 0, 1, 0}; !equal(got, want) {
		t.Fatalf("starts %v, want %v", got, want)
	}
	if r.Start(1) != 0 || r.Start(0) != 0 {
		t.Fatal("one or no address must start at 0")
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDialAddress(t *testing.T) {
	live, got := listen(t)
	_, port, _ := net.SplitHostPort(live)
	dial := func(ctx context.Context, a string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", a)
	}
	allowAll := func(netip.Addr) error { return nil }
	noLookup := func(context.Context, string) ([]netip.Addr, error) { return nil, errors.New("no lookup expected") }

	t.Run("an IP is dialled as written", func(t *testing.T) {
		c, err := DialAddress(context.Background(), live, noLookup, allowAll, dial)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		<-got
	})
	t.Run("a name is dialled at the addresses it resolves to, past a refusing one", func(t *testing.T) {
		refusedAddr := netip.MustParseAddrPort(refused(t)).Addr()
		lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
			if host != "partner.test" {
				t.Errorf("looked up %q", host)
			}
			return []netip.Addr{refusedAddr, netip.MustParseAddr("127.0.0.1")}, nil
		}
		c, err := DialAddress(context.Background(), net.JoinHostPort("partner.test", port), lookup, allowAll, dial)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		<-got
	})
	t.Run("an address the check refuses is never dialled", func(t *testing.T) {
		calls := 0
		refuse := func(a netip.Addr) error { return errors.New("refused by check: " + a.String()) }
		_, err := DialAddress(context.Background(), live, noLookup, refuse, func(ctx context.Context, a string) (net.Conn, error) {
			calls++
			return dial(ctx, a)
		})
		if err == nil || !strings.Contains(err.Error(), "refused by check") || calls != 0 {
			t.Fatalf("err %v after %d dials, want the check's refusal and no dial", err, calls)
		}
	})
	t.Run("a bad port is an error", func(t *testing.T) {
		if _, err := DialAddress(context.Background(), "127.0.0.1:http", noLookup, allowAll, dial); err == nil {
			t.Fatal("want an error")
		}
	})
}
