package sniff

import (
	"errors"
	"net"
	"sync"
)

// PrefixConn returns a net.Conn that yields prefix before reading from conn,
// for handing a sniffed connection to a TLS server or an HTTP parser.
func PrefixConn(conn net.Conn, prefix []byte) net.Conn {
	if len(prefix) == 0 {
		return conn
	}
	return &prefixConn{Conn: conn, prefix: prefix}
}

type prefixConn struct {
	net.Conn
	mu     sync.Mutex
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// CloseWrite half-closes the underlying connection when it supports it, so
// wrapping does not break half-close in a splice; otherwise it reports
// errors.ErrUnsupported and leaves the connection open.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the wrapped connection (same convention as tls.Conn).
func (c *prefixConn) NetConn() net.Conn { return c.Conn }
