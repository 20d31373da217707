package sniff

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

func selfSigned(t *testing.T, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestPrefixConnReplaysIntoTLSServer sniffs a real TLS connection on
// loopback, then hands the replayed bytes to crypto/tls: the handshake and
// the request after it must succeed as if nothing had been read.
func TestPrefixConnReplaysIntoTLSServer(t *testing.T) {
	cert, pool := selfSigned(t, "echo.example.com")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sniffed := make(chan Hello, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		h, prefix, err := ClientHello(conn)
		if err != nil {
			t.Errorf("sniff: %v", err)
			return
		}
		sniffed <- h
		srv := tls.Server(PrefixConn(conn, prefix), &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
		line, err := bufio.NewReader(srv).ReadString('\n')
		if err != nil {
			t.Errorf("server read: %v", err)
			return
		}
		io.WriteString(srv, "echo: "+line)
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "echo.example.com", RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("dial through sniffing server: %v", err)
	}
	defer conn.Close()
	io.WriteString(conn, "hello\n")
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || got != "echo: hello\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	h := <-sniffed
	if h.ServerName != "echo.example.com" || len(h.ALPN) != 1 || h.ALPN[0] != "http/1.1" {
		t.Errorf("sniffed %+v", h)
	}
}

// TestPrefixConnFallsBackToHTTP is the caller's flow for plain HTTP: the
// sniffer says ErrNotTLS and the replayed byte still reaches the parser.
func TestPrefixConnFallsBackToHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, prefix, err := ClientHello(conn)
		if !errors.Is(err, ErrNotTLS) {
			t.Errorf("err = %v, want ErrNotTLS", err)
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(PrefixConn(conn, prefix)))
		if err != nil {
			t.Errorf("read request: %v", err)
			return
		}
		got <- req.Method + " " + req.Host + req.URL.Path
		io.WriteString(conn, "HTTP/1.1 204 No Content\r\n\r\n")
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "GET " + ln.Addr().String() + "/plain"; <-got != want {
		t.Errorf("server parsed a different request than %q", want)
	}
}

func TestPrefixConnHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		done <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc := PrefixConn(c, []byte("x"))
	c.Write([]byte("sent"))
	if err := pc.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	select {
	case b := <-done:
		if string(b) != "sent" {
			t.Errorf("peer read %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("peer never saw EOF after CloseWrite")
	}
}
