package ca_test

import (
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	"egret.dev/egret/internal/ca"
)

// Two control planes for high availability run on one data dir: these tests stand two CAs over one
// directory for them (the processes share nothing else).

func TestTwoCAsOnOneDataDirShareTheRootAndBothIssue(t *testing.T) {
	dir := t.TempDir()
	var cas [2]*ca.CA
	var wg sync.WaitGroup
	for i := range cas {
		wg.Add(1)
		go func() { defer wg.Done(); cas[i] = newCA(t, dir, newFakeClock(), nil) }() // both initialise the empty dir at once
	}
	wg.Wait()
	if cas[0].RootHash() != cas[1].RootHash() {
		t.Fatalf("two roots in one data dir: %s and %s", cas[0].RootHash(), cas[1].RootHash())
	}
	for i, c := range cas {
		svid, err := c.SignCSR(makeCSR(t, newKey(t), csrSpec{uris: []string{idA.String()}}), idA, time.Hour)
		if err != nil {
			t.Fatalf("CA %d: %v", i, err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(cas[1-i].Root()) // verified by the other one's root
		if _, err := svid.Certificate.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: time.Now()}); err != nil {
			t.Fatalf("an SVID of CA %d does not verify under the other's root: %v", i, err)
		}
	}
}

func TestATokenRedeemedOnOneCAIsRefusedOnTheOther(t *testing.T) {
	dir := t.TempDir()
	a, b := newCA(t, dir, newFakeClock(), nil), newCA(t, dir, newFakeClock(), nil)
	tok, err := a.Tokens().Create(idA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.Tokens().Redeem(tok)
	if err != nil || id != idA {
		t.Fatalf("redeem on the other CA: %v, %v", id, err)
	}
	for name, c := range map[string]*ca.CA{"the CA that created it": a, "the CA that redeemed it": b} {
		if _, err := c.Tokens().Redeem(tok); err == nil {
			t.Fatalf("the used token was redeemed again on %s", name)
		}
	}
}

func TestConcurrentRevocationsOnTwoCAsAreAllKept(t *testing.T) {
	dir := t.TempDir()
	a, b := newCA(t, dir, newFakeClock(), nil), newCA(t, dir, newFakeClock(), nil)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			errs <- c.Revoke(ca.Revocation{Serial: fmt.Sprintf("%04x", 0x1000+i)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*ca.CA{"a": a, "b": b} {
		list, err := c.Revocations()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != n {
			t.Fatalf("CA %s sees %d revocations, want %d (a concurrent write was lost)", name, len(list), n)
		}
	}
}

func TestARevocationOnOneCAIsSeenAtOnceByTheOther(t *testing.T) {
	dir := t.TempDir()
	a, b := newCA(t, dir, newFakeClock(), nil), newCA(t, dir, newFakeClock(), nil)
	// Entries of the same size written back to back: a cache keyed on size and modification time could
	// miss the second one within the file system's timestamp granularity.
	for i := range 20 {
		serial := fmt.Sprintf("%04x", 0xa000+i)
		if _, err := b.Revocations(); err != nil { // b caches the list as it is now
			t.Fatal(err)
		}
		if err := a.Revoke(ca.Revocation{Serial: serial, RevokedAt: time.Unix(0, 0).UTC()}); err != nil {
			t.Fatal(err)
		}
		list, err := b.Revocations()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != i+1 || list[i].Serial != serial {
			t.Fatalf("after revoking %s on a, b sees %d entries %+v", serial, len(list), list)
		}
	}
}
