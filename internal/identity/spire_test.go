package identity_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"egret.dev/egret/internal/identity"
)

// spireBinDir is where scripts/build-spire.sh puts spire-server and spire-agent:
// $EGRET_SPIRE_BIN if set, else ${EGRET_TOOLS_DIR:-$HOME/.cache/egret/tools}/bin.
func spireBinDir() string {
	if d := os.Getenv("EGRET_SPIRE_BIN"); d != "" {
		return d
	}
	tools := os.Getenv("EGRET_TOOLS_DIR")
	if tools == "" {
		home, _ := os.UserHomeDir()
		tools = filepath.Join(home, ".cache", "egret", "tools")
	}
	return filepath.Join(tools, "bin")
}

// A real SPIRE server and agent on loopback and unix sockets issue an SVID through the Workload
// API; the Workload API source then carries a real mTLS round trip.
func TestWorkloadAPISourceAgainstRealSPIRE(t *testing.T) {
	bin := spireBinDir()
	server, agent := filepath.Join(bin, "spire-server"), filepath.Join(bin, "spire-agent")
	for _, b := range []string{server, agent} {
		if _, err := os.Stat(b); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing under CI; run scripts/build-spire.sh first (or set EGRET_SPIRE_BIN)", b)
			}
			t.Skipf("SPIRE binaries not found (%s); run scripts/build-spire.sh or set EGRET_SPIRE_BIN", b)
		}
	}
	if testing.Short() {
		t.Skip("starts a SPIRE server and agent")
	}

	dir := t.TempDir() // its path stays well under the 108-byte limit on unix socket names
	port := freePort(t)
	const td = "egret.test"
	serverSock := filepath.Join(dir, "server.sock")
	agentSock := filepath.Join(dir, "agent.sock")

	writeFile(t, filepath.Join(dir, "server.conf"), fmt.Sprintf(`
server {
  bind_address = "127.0.0.1"
  bind_port = "%d"
  socket_path = %q
  trust_domain = %q
  data_dir = %q
  log_level = "INFO"
  default_x509_svid_ttl = "1h"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = %q
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
`, port, serverSock, td, filepath.Join(dir, "server-data"), filepath.Join(dir, "datastore.sqlite3")))
	writeFile(t, filepath.Join(dir, "agent.conf"), fmt.Sprintf(`
agent {
  data_dir = %q
  log_level = "INFO"
  server_address = "127.0.0.1"
  server_port = "%d"
  socket_path = %q
  trust_domain = %q
  insecure_bootstrap = true
}
plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
`, filepath.Join(dir, "agent-data"), port, agentSock, td))

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	startProcess(t, ctx, filepath.Join(dir, "server.log"), server, "run", "-config", filepath.Join(dir, "server.conf"))
	waitFor(t, ctx, "spire-server healthy", func() error {
		return exec.CommandContext(ctx, server, "healthcheck", "-socketPath", serverSock).Run()
	})

	agentID := "spiffe://" + td + "/egret-test/agent"
	out := run(t, ctx, server, "token", "generate", "-socketPath", serverSock, "-spiffeID", agentID, "-ttl", "600")
	joinToken := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Token:"))
	workload := spiffeid.RequireFromString("spiffe://" + td + "/ns/egress/sa/gateway")
	run(t, ctx, server, "entry", "create", "-socketPath", serverSock, "-parentID", agentID,
		"-spiffeID", workload.String(), "-selector", "unix:uid:"+strconv.Itoa(os.Getuid()))

	startProcess(t, ctx, filepath.Join(dir, "agent.log"), agent, "run", "-config", filepath.Join(dir, "agent.conf"), "-joinToken", joinToken)

	srcCtx, srcCancel := context.WithTimeout(ctx, time.Minute)
	defer srcCancel()
	src, err := identity.NewWorkloadAPISource(srcCtx, "unix://"+agentSock)
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("workload API source: %v", err)
	}
	defer src.Close()
	svid, err := src.GetX509SVID()
	if err != nil || svid.ID != workload {
		t.Fatalf("SVID from SPIRE: %v %v, want %s", svid, err, workload)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", identity.ServerTLSConfig(src, tlsconfig.AuthorizeID(workload), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			return
		}
		id, err := identity.PeerID(tc.ConnectionState())
		fmt.Fprintf(conn, "hello %v %v\n", id, err)
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), identity.ClientTLSConfig(src, tlsconfig.AuthorizeID(workload), nil))
	if err != nil {
		t.Fatalf("mTLS with SPIRE SVIDs: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "hello "+workload.String()+" <nil>" {
		t.Fatalf("server answered %q, %v", line, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args[:2], err, out.String())
	}
	return out.String()
}

// startProcess runs a daemon for the test's lifetime, logging to logPath, and stops it by its own PID.
func startProcess(t *testing.T, ctx context.Context, logPath, name string, args ...string) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
}

func waitFor(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	var err error
	for ctx.Err() == nil {
		if err = check(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

func dumpLogs(t *testing.T, dir string) {
	for _, f := range []string{"server.log", "agent.log"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		t.Logf("%s:\n%s", f, data)
	}
}
