package intercept

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// With the rules installed, a connection that no rule redirected (loopback is excluded) reports its
// own local address; without any rules the namespace has no conntrack and the error says so.
func TestOriginalDstOfAnUnredirectedConnection(t *testing.T) {
	b := newBed(t)
	t.Run("without rules there is no conntrack entry", func(t *testing.T) {
		_, err := originalDstOfLoopbackConn(t, b)
		if err == nil || !strings.Contains(err.Error(), "no conntrack entry") {
			t.Fatalf("got %v, want a 'no conntrack entry' error", err)
		}
	})
	t.Run("with rules it is the local address", func(t *testing.T) {
		r, err := Install(testParams(b))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Remove()
		got, err := originalDstOfLoopbackConn(t, b)
		if err != nil {
			t.Fatalf("OriginalDst: %v", err)
		}
		if got.Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("got %s, want the listener's own 127.0.0.1 address", got)
		}
	})
}

// originalDstOfLoopbackConn opens a loopback connection inside the workload namespace and asks for the
// accepted side's original destination.
func originalDstOfLoopbackConn(t *testing.T, b *bed) (netip.AddrPort, error) {
	t.Helper()
	l, err := b.wl.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := b.wl.Dial(ctx, nil, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := OriginalDst(s)
	if err == nil && got != netip.MustParseAddrPort(l.Addr().String()) {
		t.Errorf("got %s, want the local address %s", got, l.Addr())
	}
	return got, err
}

func TestOriginalDstRefusesAConnWithoutASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := OriginalDst(a); err == nil || !strings.Contains(err.Error(), "no file descriptor") {
		t.Fatalf("got %v, want a clear error", err)
	}
}
