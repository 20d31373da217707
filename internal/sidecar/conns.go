package sidecar

import (
	"io"
	"net"
	"time"
)

// streamConn is an HTTP/2 CONNECT stream to a gateway, seen as a net.Conn.
type streamConn struct {
	r io.ReadCloser
	w *io.PipeWriter
}

func (c *streamConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *streamConn) Write(b []byte) (int, error) { return c.w.Write(b) }

// CloseWrite ends the request body: the gateway sees the half-close and passes it on.
func (c *streamConn) CloseWrite() error                { return c.w.Close() }
func (c *streamConn) Close() error                     { c.w.Close(); return c.r.Close() }
func (c *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }
