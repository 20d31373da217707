package identity_test

import (
	"net"
	"testing"
	"time"

	"egret.dev/egret/internal/identity"
)

// deadAddress is a loopback port nothing listens on (a control plane that was killed).
func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestEnrollmentAndRenewalTryEachControlPlane(t *testing.T) {
	clk := newFakeClock()
	c, addr := startCA(t, clk, 24*time.Hour, nil)
	list := deadAddress(t) + "," + addr // the first control plane is down
	dir := t.TempDir()
	src, err := identity.NewClientSource(t.Context(), identity.Params{Address: list, Token: token(t, c, idA), Clock: clk, DataDir: dir})
	if err != nil {
		t.Fatalf("enroll with the first control plane down: %v", err)
	}
	first := serial(t, src)
	src.Close()
	again, err := identity.NewClientSource(t.Context(), identity.Params{Address: list, Token: "spent", Clock: clk, DataDir: dir})
	if err != nil {
		t.Fatalf("resume with the first control plane down: %v", err)
	}
	defer again.Close()
	clk.waitForWaiter(t)
	clk.Advance(12 * time.Hour)
	waitForNewSerial(t, again, first) // renewed through the second
}
