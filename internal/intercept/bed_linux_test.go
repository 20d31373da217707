package intercept

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"egret.dev/egret/internal/netnstest"
)

// Addresses live only inside the namespaces each test creates.
var (
	wlAddr4   = netip.MustParsePrefix("10.233.0.1/24")
	dstAddr4  = netip.MustParsePrefix("10.233.0.2/24")
	exclAddr4 = netip.MustParsePrefix("10.233.0.3/24") // excluded by CIDR in the tests
	wlAddr6   = netip.MustParsePrefix("fd00:e9e7::1/64")
	dstAddr6  = netip.MustParsePrefix("fd00:e9e7::2/64")
)

const (
	testProxyPort = 15001
	destPort      = 8080
	exclPort      = 9090 // excluded by port in the tests
)

// bed is a workload namespace wired to an "outside" namespace by a veth pair. The outside runs
// destination servers that name the address they were reached on; the workload runs a minimal
// transparent proxy on the proxy port that reports the original destination and relays to it.
type bed struct {
	wl, out *netnstest.NS
}

// newBed builds the bed with the proxy listening on 127.0.0.1 and ::1, the two addresses that the
// redirect rewrites to.
func newBed(t *testing.T) *bed {
	t.Helper()
	return newBedWithProxyOn(t, fmt.Sprintf("127.0.0.1:%d", testProxyPort), fmt.Sprintf("[::1]:%d", testProxyPort))
}

func newBedWithProxyOn(t *testing.T, proxyAddrs ...string) *bed {
	t.Helper()
	netnstest.RequireRoot(t)
	b := &bed{wl: netnstest.New(t), out: netnstest.New(t)}
	netnstest.AddVeth(t, b.wl, b.out, []netip.Prefix{wlAddr4, wlAddr6}, []netip.Prefix{dstAddr4, exclAddr4, dstAddr6})
	for _, ap := range []netip.AddrPort{
		netip.AddrPortFrom(dstAddr4.Addr(), destPort),
		netip.AddrPortFrom(exclAddr4.Addr(), destPort),
		netip.AddrPortFrom(dstAddr4.Addr(), exclPort),
		netip.AddrPortFrom(dstAddr6.Addr(), destPort),
	} {
		l, err := b.out.Listen("tcp", ap.String())
		if err != nil {
			t.Fatalf("destination listener %s: %v", ap, err)
		}
		serve(t, l, func(c net.Conn) { fmt.Fprintf(c, "dest %s\n", c.LocalAddr()) })
	}
	for _, addr := range proxyAddrs {
		l, err := b.wl.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("proxy listener %s: %v", addr, err)
		}
		serve(t, l, b.proxy)
	}
	return b
}

// proxy is the sidecar's part in miniature: read the original destination, dial it with the bypass
// mark from inside the workload namespace, relay the answer.
func (b *bed) proxy(c net.Conn) {
	dst, err := OriginalDst(c)
	if err != nil {
		fmt.Fprintf(c, "proxy error: %v\n", err)
		return
	}
	fmt.Fprintf(c, "proxy orig=%s\n", dst)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up, err := b.wl.Dial(ctx, BypassDialer(int(DefaultBypassMark)), "tcp", dst.String())
	if err != nil {
		fmt.Fprintf(c, "proxy upstream error: %v\n", err)
		return
	}
	defer up.Close()
	io.Copy(c, up)
}

// serve accepts until the test ends, answering each connection with handle and closing it.
func serve(t *testing.T, l net.Listener, handle func(net.Conn)) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// fetch dials addr from the workload namespace with d (nil: an ordinary client) and returns the whole answer.
func (b *bed) fetch(t *testing.T, d *net.Dialer, addr netip.AddrPort) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := b.wl.Dial(ctx, d, "tcp", addr.String())
	if err != nil {
		t.Fatalf("dial %s from the workload: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(bufio.NewReader(c))
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read from %s: %v", addr, err)
	}
	return strings.TrimSpace(string(got))
}

// direct is what a client sees when its connection was not redirected.
func direct(addr netip.AddrPort) string { return "dest " + addr.String() }

// viaProxy is what a client sees when the proxy intercepted and relayed it.
func viaProxy(addr netip.AddrPort) string {
	return "proxy orig=" + addr.String() + "\ndest " + addr.String()
}
