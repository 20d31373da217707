package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestDialerTriesEachAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	s := startDNS(t)
	// ::1 comes first and has nothing listening on the port (or no IPv6 at
	// all): the dialer must move on to 127.0.0.1.
	s.add("upstream.example.com. 60 IN AAAA ::1")
	s.add("upstream.example.com. 60 IN A 127.0.0.1")
	s.add("sneaky.example.com. 60 IN A 127.0.0.1")
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	d := &Dialer{
		Resolver: newResolver(s, &fakeClock{now: time.Unix(1e9, 0)}, Options{}),
		Lookup: func(host string) Lookup {
			if host == "upstream.example.com" {
				return Lookup{Allow: loopback}
			}
			return Lookup{}
		},
	}
	ctx := context.Background()

	conn, err := d.DialContext(ctx, "tcp", "upstream.example.com:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("dial allowed host: %v", err)
	}
	buf := make([]byte, 2)
	if _, err := conn.Read(buf); err != nil || string(buf) != "hi" {
		t.Errorf("read %q, %v", buf, err)
	}
	conn.Close()

	_, err = d.DialContext(ctx, "tcp", "sneaky.example.com:"+strconv.Itoa(port))
	var blockedErr *BlockedError
	if !errors.As(err, &blockedErr) {
		t.Errorf("dial to a host whose DNS points at loopback: %v, want *BlockedError", err)
	}

	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := ln2.Addr().(*net.TCPAddr).Port
	ln2.Close()
	_, err = d.DialContext(ctx, "tcp", "upstream.example.com:"+strconv.Itoa(closedPort))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial to a closed port: %v, want connection refused", err)
	}

	if _, err := d.DialContext(ctx, "tcp", "no-port.example.com"); err == nil {
		t.Error("address without a port was accepted")
	}
}
