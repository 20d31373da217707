package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStandinServesVerifiableHTTPS starts the stand-in, verifies it as www.google.com with the CA it
// wrote, over HTTP/1.1 and HTTP/2, and stops it as SIGTERM would.
func TestStandinServesVerifiableHTTPS(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--host", "www.google.com", "--ca-out", caFile, "--body-size", "7"}, pw)
		pw.Close()
	}()
	addr, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address printed: %v", err)
	}
	addr = strings.TrimSpace(addr)
	go io.Copy(io.Discard, pr)

	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("CA file holds no certificate")
	}
	for _, tc := range []struct {
		name, serverName string
		h2               bool
	}{
		{"HTTP/1.1 as www.google.com", "www.google.com", false},
		{"HTTP/2 as www.google.com", "www.google.com", true},
		{"HTTP/2 by loopback address", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p http.Protocols
			p.SetHTTP1(!tc.h2)
			p.SetHTTP2(tc.h2)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: tc.serverName}, Protocols: &p}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "xxxxxxx" || (resp.ProtoMajor == 2) != tc.h2 {
				t.Errorf("got %s %s body %q", resp.Proto, resp.Status, body)
			}
		})
	}

	// Another host name is not on the certificate.
	_, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "www.example.com"})
	if err == nil || !strings.Contains(err.Error(), "not www.example.com") {
		t.Errorf("handshake as www.example.com: %v, want a name mismatch", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stand-in did not stop")
	}
}

func TestStandinRejectsBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no CA file", []string{"--listen", "127.0.0.1:0"}, "--ca-out is required"},
		{"a non-loopback address", []string{"--listen", "0.0.0.0:0", "--ca-out", filepath.Join(dir, "ca.pem")}, "must be a loopback IP:port"},
		{"a name", []string{"--listen", "localhost:0", "--ca-out", filepath.Join(dir, "ca.pem")}, "must be a loopback IP:port"},
		{"a negative body", []string{"--body-size", "-1", "--ca-out", filepath.Join(dir, "ca.pem")}, "--body-size must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want %q", tc.args, err, tc.want)
			}
		})
	}
}
