package sidecar_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"egret.dev/egret/internal/gateway"
	"egret.dev/egret/internal/meshtest"
)

// countingConn counts the bytes a workload's connection sends and receives after its CONNECT answer.
type countingConn struct {
	net.Conn
	in, out atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// halfCloseHost is a TLS host (api.example.com, the stand-in's certificate) that reads its caller's
// whole message, up to the caller's half-close, and only then answers and closes.
func halfCloseHost(t *testing.T, ext *meshtest.External) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: ext.Srv.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				msg, err := io.ReadAll(c) // returns on the caller's close_notify, which follows its half-close
				if err != nil {
					return
				}
				fmt.Fprintf(c, "got %q after your half-close", msg)
				c.(*tls.Conn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// A workload's tunnel through the gateway carries a half-close both ways: the workload sends, shuts
// its side, and still reads the host's answer, which the host writes only after it saw the EOF; the
// sidecar's log line counts exactly the bytes the workload sent and received through the tunnel.
func TestATunnelThroughTheGatewayCarriesHalfClosesAndCountsBytes(t *testing.T) {
	m := meshtest.NewMesh(t)
	ext := meshtest.NewExternal(t, "api.example.com", func(http.ResponseWriter, *http.Request) {})
	host := halfCloseHost(t, ext)
	g := meshtest.StartGateway(t, m, meshtest.SeedConfig(t, meshtest.TunnelResources), ext, func(p *gateway.Params) {
		p.PortOverrides[meshtest.TunnelTargetPort] = 0
		p.Upstream = gateway.NewUpstream(gateway.UpstreamParams{Overrides: map[string]string{"api.example.com:443": host}})
	})
	addrs := tunnelGatewayAddrs(g.GW)
	sc := startSidecar(t, m, meshtest.SidecarConfig(t, "bookinfo", "productpage", addrs, meshtest.TunnelResources))

	raw, err := net.Dial("tcp", sc.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(raw, "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
	br := bufio.NewReader(raw)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK || br.Buffered() != 0 {
		t.Fatalf("CONNECT: %v %v (%d bytes early)", resp, err, br.Buffered())
	}
	cc := &countingConn{Conn: raw}
	tc := tls.Client(cc, &tls.Config{ServerName: "api.example.com", RootCAs: ext.Roots()})
	if _, err := io.WriteString(tc, "ping"); err != nil {
		t.Fatal(err)
	}
	if err := tc.CloseWrite(); err != nil { // close_notify ...
		t.Fatal(err)
	}
	if err := raw.(*net.TCPConn).CloseWrite(); err != nil { // ... and the TCP half-close behind it
		t.Fatal(err)
	}
	answer, err := io.ReadAll(tc)
	if err != nil {
		t.Fatalf("reading after the half-close: %v", err)
	}
	if want := `got "ping" after your half-close`; string(answer) != want {
		t.Fatalf("answer %q, want %q", answer, want)
	}
	if _, err := raw.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the host's answer: %v, want EOF", err)
	}
	raw.Close()

	var line map[string]any
	meshtest.WaitFor(t, func() bool {
		for _, l := range lines(t, sc.log) {
			if l["method"] == "CONNECT" {
				line = l
				return true
			}
		}
		return false
	})
	if line["response_code"] != 200.0 || line["upstream_cluster"] != gw1 {
		t.Errorf("log line %v, want a 200 through %s", line, gw1)
	}
	if got, want := line["bytes_received"], float64(cc.out.Load()); got != want {
		t.Errorf("bytes_received %v, want %v (what the workload sent through the tunnel)", got, want)
	}
	if got, want := line["bytes_sent"], float64(cc.in.Load()); got != want {
		t.Errorf("bytes_sent %v, want %v (what the workload read from the tunnel)", got, want)
	}
	if _, ok := line["duration"]; !ok {
		t.Errorf("no duration in %v", line)
	}
}
