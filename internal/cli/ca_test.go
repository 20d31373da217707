package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
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

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errw bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errw)
	return code, out.String(), errw.String()
}

func TestTokenCreateThenEnrollAgainstRunningCA(t *testing.T) {
	dir := t.TempDir()
	id := "spiffe://cluster1/ns/gloo-mesh-gateways/sa/istio-egressgateway"

	// The server process: a CA over the same data dir, serving enrollment on loopback.
	c, err := ca.New(ca.Params{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.ServerTLSConfig(ca.ServerTLSParams{TrustDomain: spiffeid.RequireTrustDomainFromString("cluster1"), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ca.NewEnrollHandler(c), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	code, out, errText := runCLI(t, "token", "create", "--identity", id, "--ttl", "10m", "--data-dir", dir)
	if code != ExitOK {
		t.Fatalf("token create: %d %s", code, errText)
	}
	tok := strings.TrimSpace(out)
	if !strings.HasPrefix(tok, "egret1.") || !strings.HasSuffix(tok, c.RootHash()) {
		t.Fatalf("token %q does not have the documented shape", tok)
	}
	src, err := identity.NewClientSource(t.Context(), identity.Params{Address: ln.Addr().String(), Token: tok})
	if err != nil {
		t.Fatalf("enroll with the CLI's token: %v", err)
	}
	defer src.Close()
	if src.ID().String() != id {
		t.Fatalf("enrolled as %s", src.ID())
	}
}

func TestCAIssueAndBundle(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "svid")
	id := "spiffe://cluster1/ns/legacy/sa/batch"
	if code, _, e := runCLI(t, "ca", "init", "--data-dir", dir); code != ExitOK {
		t.Fatal(e)
	}
	code, _, errText := runCLI(t, "ca", "issue", "--identity", id, "--out", out, "--ttl", "2h", "--data-dir", dir)
	if code != ExitOK {
		t.Fatalf("ca issue: %d %s", code, errText)
	}
	fi, err := os.Stat(filepath.Join(out, "key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v %v", fi, err)
	}
	code, bundle, _ := runCLI(t, "ca", "bundle", "--data-dir", dir)
	written, _ := os.ReadFile(filepath.Join(out, "bundle.pem"))
	if code != ExitOK || bundle != string(written) || !strings.Contains(bundle, "BEGIN CERTIFICATE") {
		t.Fatalf("ca bundle printed %q, issue wrote %q", bundle, written)
	}
	src, err := identity.LoadFileSource(filepath.Join(out, "svid.pem"), filepath.Join(out, "key.pem"), filepath.Join(out, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	svid, _ := src.GetX509SVID()
	if svid.ID.String() != id || svid.Certificates[0].NotAfter.Sub(svid.Certificates[0].NotBefore) > 2*time.Hour+10*time.Second {
		t.Fatalf("issued %s valid %s–%s", svid.ID, svid.Certificates[0].NotBefore, svid.Certificates[0].NotAfter)
	}
	// The issued files work for real mTLS.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", identity.ServerTLSConfig(src, tlsconfig.AuthorizeAny(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			conn.(*tls.Conn).Handshake()
			conn.Write([]byte("ok"))
			conn.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), identity.ClientTLSConfig(src, tlsconfig.AuthorizeAny(), nil))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := conn.Read(buf); err != nil || string(buf) != "ok" {
		t.Fatalf("read %q %v", buf, err)
	}
	conn.Close()
}

func TestCARefusesWorldReadableKey(t *testing.T) {
	dir := t.TempDir()
	if code, _, e := runCLI(t, "ca", "init", "--data-dir", dir); code != ExitOK {
		t.Fatal(e)
	}
	os.Chmod(filepath.Join(dir, "root.key"), 0o644)
	code, _, errText := runCLI(t, "ca", "bundle", "--data-dir", dir)
	if code != ExitError || !strings.Contains(errText, "chmod 600") {
		t.Fatalf("got %d %q", code, errText)
	}
}

func TestTokenCreateRejectsBadIdentity(t *testing.T) {
	code, _, errText := runCLI(t, "token", "create", "--identity", "http://nope", "--data-dir", t.TempDir())
	if code != ExitUsage || !strings.Contains(errText, "--identity") {
		t.Fatalf("got %d %q", code, errText)
	}
}
