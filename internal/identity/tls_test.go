package identity_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/identity"
)

// echoServer answers each line with "<peer SPIFFE ID> <peer serial> <line>".
func echoServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				tc := conn.(*tls.Conn)
				if err := tc.Handshake(); err != nil {
					return
				}
				cs := tc.ConnectionState()
				id, err := identity.PeerID(cs)
				if err != nil {
					fmt.Fprintln(conn, "error", err)
					return
				}
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					fmt.Fprintln(conn, id, cs.VerifiedChains[0][0].SerialNumber, sc.Text())
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, conn net.Conn, r *bufio.Reader, msg string) []string {
	t.Helper()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(conn, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.Fields(line)
}

// A proxy with only a token and an address enrolls, rotates on a short TTL, and a connection
// opened before the rotation keeps working past the old certificate's expiry while new
// handshakes present the new certificate.
func TestEndToEndRotationKeepsConnections(t *testing.T) {
	const ttl = 3 * time.Second
	c, addr := startCA(t, ca.SystemClock, ttl, nil)
	client, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, idA)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, idB)})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	srvAddr := echoServer(t, identity.ServerTLSConfig(server, tlsconfig.AuthorizeID(idA), nil))
	clientCfg := identity.ClientTLSConfig(client, tlsconfig.AuthorizeID(idB), nil)

	held, err := tls.Dial("tcp", srvAddr, clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldR := bufio.NewReader(held)
	first := roundTrip(t, held, heldR, "before")
	if first[0] != idA.String() {
		t.Fatalf("server saw %s, want %s", first[0], idA)
	}
	oldSerial := first[1]
	svid, _ := client.GetX509SVID()
	oldExpiry := svid.Certificates[0].NotAfter

	newSerial := waitForNewSerial(t, client, oldSerial)
	time.Sleep(time.Until(oldExpiry) + 200*time.Millisecond) // the first certificate is now expired

	if got := roundTrip(t, held, heldR, "after"); got[1] != oldSerial || got[2] != "after" {
		t.Fatalf("held connection: %v", got)
	}
	fresh, err := tls.Dial("tcp", srvAddr, clientCfg)
	if err != nil {
		t.Fatalf("new handshake after rotation: %v", err)
	}
	defer fresh.Close()
	got := roundTrip(t, fresh, bufio.NewReader(fresh), "new")
	if got[1] == oldSerial {
		t.Fatalf("new handshake presented the old certificate %s", got[1])
	}
	cur := serial(t, client)
	if got[1] != cur && got[1] != newSerial {
		t.Fatalf("new handshake presented %s; source holds %s", got[1], cur)
	}
}

func TestMTLSRefusals(t *testing.T) {
	clk := newFakeClock()
	c, addr := startCA(t, clk, time.Hour, nil)
	enroll := func(id spiffeid.ID) *identity.ClientSource {
		s, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, id), Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := enroll(idA), enroll(idB)
	srvAddr := echoServer(t, identity.ServerTLSConfig(b, tlsconfig.AuthorizeID(idA), clk))

	dial := func(cfg *tls.Config) error {
		conn, err := tls.Dial("tcp", srvAddr, cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = bufio.NewReader(conn).ReadString('\n') // TLS 1.3 reports client-cert refusal on first read
		if err == nil {
			fmt.Fprintln(conn, "x")
			_, err = bufio.NewReader(conn).ReadString('\n')
		}
		return err
	}

	t.Run("an authorized client gets through", func(t *testing.T) {
		conn, err := tls.Dial("tcp", srvAddr, identity.ClientTLSConfig(a, tlsconfig.AuthorizeID(idB), clk))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := roundTrip(t, conn, bufio.NewReader(conn), "hi"); got[0] != idA.String() {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("a client the authorizer does not name is refused", func(t *testing.T) {
		other := enroll(spiffeid.RequireFromString("spiffe://cluster1/ns/other/sa/other"))
		if err := dial(identity.ClientTLSConfig(other, tlsconfig.AuthorizeAny(), clk)); err == nil {
			t.Fatal("unauthorized client was served")
		}
	})
	t.Run("a client from another CA is refused", func(t *testing.T) {
		foreignCA, foreignAddr := startCA(t, clk, time.Hour, nil)
		f, err := identity.NewClientSource(t.Context(), identity.Params{Address: foreignAddr, Token: token(t, foreignCA, idA), Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := dial(identity.ClientTLSConfig(f, tlsconfig.AuthorizeAny(), clk)); err == nil {
			t.Fatal("client with a foreign SVID for the same ID was served")
		}
	})
	t.Run("a client refuses a server with the wrong ID", func(t *testing.T) {
		err := dial(identity.ClientTLSConfig(a, tlsconfig.AuthorizeID(idA), clk))
		if err == nil || !strings.Contains(err.Error(), "unexpected ID") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("PeerID refuses an unverified connection state", func(t *testing.T) {
		if _, err := identity.PeerID(tls.ConnectionState{}); err != identity.ErrUnverified {
			t.Fatalf("got %v", err)
		}
	})
}

func TestFileSourceFromSavedSVID(t *testing.T) {
	clk := newFakeClock()
	c, addr := startCA(t, clk, time.Hour, nil)
	dir := t.TempDir()
	src, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, idA), Clock: clk, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	fi, err := os.Stat(filepath.Join(dir, identity.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	fs, err := identity.LoadFileSource(filepath.Join(dir, identity.SVIDFile), filepath.Join(dir, identity.KeyFile), filepath.Join(dir, identity.BundleFile))
	if err != nil {
		t.Fatal(err)
	}
	srvAddr := echoServer(t, identity.ServerTLSConfig(fs, tlsconfig.AuthorizeID(idA), clk))
	conn, err := tls.Dial("tcp", srvAddr, identity.ClientTLSConfig(fs, tlsconfig.AuthorizeID(idA), clk))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := roundTrip(t, conn, bufio.NewReader(conn), "hi"); got[0] != idA.String() {
		t.Fatalf("got %v", got)
	}
}
