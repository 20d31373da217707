package intercept

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket options from linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h.
const (
	soOriginalDst     = 80 // SO_ORIGINAL_DST, level SOL_IP
	ip6tSoOriginalDst = 80 // IP6T_SO_ORIGINAL_DST, level SOL_IPV6
)

// OriginalDst returns where a redirected connection was going before the nat rule sent it to us.
// A connection that was not redirected reports its own local address (conntrack saw no rewrite), which
// lets a caller spot a client that dialled the proxy port directly instead of relaying to itself. In a
// namespace without nat rules conntrack may track nothing, and the error says so.
func OriginalDst(c net.Conn) (netip.AddrPort, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("intercept: original destination: %T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("intercept: original destination: %w", err)
	}
	// An IPv4 client of a dual-stack listener shows up v4-mapped; its conntrack entry is IPv4.
	v4 := true
	if la, ok := c.LocalAddr().(*net.TCPAddr); ok && la.IP.To4() == nil {
		v4 = false
	}
	var dst netip.AddrPort
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		if v4 {
			dst, sockErr = originalDst4(int(fd))
		} else {
			dst, sockErr = originalDst6(int(fd))
		}
	})
	if err == nil {
		err = sockErr
	}
	if errors.Is(err, unix.ENOENT) {
		return netip.AddrPort{}, fmt.Errorf("intercept: getsockopt SO_ORIGINAL_DST: no conntrack entry for this connection: it was not redirected, or no nat rules are installed in this namespace: %w", err)
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("intercept: getsockopt SO_ORIGINAL_DST: %w", err)
	}
	return dst, nil
}

// originalDst4 reads a struct sockaddr_in. x/sys has no getsockopt for raw bytes, but IPv6Mreq is
// 20 bytes, which holds sockaddr_in's 16: family (host order), port (network order), address.
func originalDst4(fd int) (netip.AddrPort, error) {
	m, err := unix.GetsockoptIPv6Mreq(fd, unix.SOL_IP, soOriginalDst)
	if err != nil {
		return netip.AddrPort{}, err
	}
	b := m.Multiaddr
	port := binary.BigEndian.Uint16(b[2:4])
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port), nil
}

// originalDst6 reads a struct sockaddr_in6, which is the head of struct ip6_mtuinfo.
func originalDst6(fd int) (netip.AddrPort, error) {
	m, err := unix.GetsockoptIPv6MTUInfo(fd, unix.SOL_IPV6, ip6tSoOriginalDst)
	if err != nil {
		return netip.AddrPort{}, err
	}
	sa := m.Addr
	// The port field is stored in network order; read its bytes as they lie in memory.
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port := binary.BigEndian.Uint16(p[:])
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port), nil
}
