package identity_test

import (
	"bufio"
	"crypto/tls"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/identity"
)

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// `egret ca revoke` on a workload: its renewal is refused, and once the gateway's source has fetched
// the next revocation list, a new mTLS handshake with the workload's still-unexpired certificate fails.
func TestARevokedWorkloadCannotRenewAndIsRefusedAfterTheNextBundleUpdate(t *testing.T) {
	c, addr := startCA(t, ca.SystemClock, 3*time.Second, nil)
	wlLog := &lockedLog{}
	workload, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, idA),
		Logger: slog.New(slog.NewTextHandler(wlLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer workload.Close()
	gw, err := identity.NewClientSource(t.Context(), identity.Params{Address: addr, Token: token(t, c, idB), BundleRefresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	srvAddr := echoServer(t, identity.ServerTLSConfig(gw, tlsconfig.AuthorizeAny(), nil))
	clientCfg := identity.ClientTLSConfig(workload, tlsconfig.AuthorizeID(idB), nil)

	before, err := tls.Dial("tcp", srvAddr, clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, before, bufio.NewReader(before), "hello"); got[0] != idA.String() {
		t.Fatalf("before revocation: %v", got)
	}
	before.Close()

	if err := c.Revoke(ca.Revocation{SPIFFEID: idA.String()}); err != nil {
		t.Fatal(err)
	}
	svid, _ := workload.GetX509SVID()
	leaf := svid.Certificates[0]
	deadline := time.Now().Add(5 * time.Second)
	for !gw.Revoked(leaf) {
		if time.Now().After(deadline) {
			t.Fatal("the gateway's source never learned of the revocation")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if time.Now().After(leaf.NotAfter) {
		t.Fatal("test too slow: the certificate expired on its own")
	}
	conn, err := tls.Dial("tcp", srvAddr, clientCfg)
	if err == nil {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = bufio.NewReader(conn).ReadString('\n') // TLS 1.3: the client learns of the refusal on its first read
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "bad certificate") && !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("handshake with a revoked certificate: %v, want it refused", err)
	}

	// Its renewal (at half life, 1.5 s in) is refused as revoked.
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(wlLog.String(), "revoked") {
		if time.Now().After(deadline) {
			t.Fatalf("no refused renewal in the workload's log:\n%s", wlLog.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if now, _ := workload.GetX509SVID(); now.Certificates[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatal("the revoked workload obtained a new certificate")
	}
}
