package ca_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"egret.dev/egret/internal/ca"
	"egret.dev/egret/internal/ca/enrollproto"
)

func TestTokenRedeemRules(t *testing.T) {
	clk := newFakeClock()
	dir := t.TempDir()
	c := newCA(t, dir, clk, nil)
	store := c.Tokens()

	t.Run("a fresh token redeems to its identity", func(t *testing.T) {
		tok, err := store.Create(idA, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.Redeem(tok)
		if err != nil || got != idA {
			t.Fatalf("Redeem = %v, %v; want %s", got, err, idA)
		}
	})
	t.Run("a token used twice is refused the second time", func(t *testing.T) {
		tok, _ := store.Create(idA, time.Hour)
		if _, err := store.Redeem(tok); err != nil {
			t.Fatal(err)
		}
		_, err := store.Redeem(tok)
		var te *ca.TokenError
		if !errors.As(err, &te) {
			t.Fatalf("second Redeem = %v; want a TokenError", err)
		}
	})
	t.Run("an expired token is refused", func(t *testing.T) {
		tok, _ := store.Create(idA, time.Minute)
		clk.Advance(time.Minute)
		_, err := store.Redeem(tok)
		var te *ca.TokenError
		if !errors.As(err, &te) || !strings.Contains(te.Reason, "expired") {
			t.Fatalf("Redeem = %v; want expired", err)
		}
	})
	t.Run("a wrong secret is refused and does not burn the token", func(t *testing.T) {
		tok, _ := store.Create(idA, time.Hour)
		forged, _ := enrollproto.NewToken(tok.RootHash)
		forged.ID = tok.ID
		if _, err := store.Redeem(forged); err == nil {
			t.Fatal("forged secret accepted")
		}
		if _, err := store.Redeem(tok); err != nil {
			t.Fatalf("the real token no longer works: %v", err)
		}
	})
	t.Run("a token pinned to another root is refused", func(t *testing.T) {
		tok, _ := store.Create(idA, time.Hour)
		tok.RootHash = strings.Repeat("0", 64)
		if _, err := store.Redeem(tok); err == nil {
			t.Fatal("token with the wrong pin accepted")
		}
	})
	t.Run("a token survives a restart and is stored hashed and private", func(t *testing.T) {
		tok, _ := store.Create(idB, time.Hour)
		raw, err := os.ReadFile(filepath.Join(dir, "tokens", tok.ID+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), tok.Secret.Reveal()) {
			t.Fatal("token file holds the secret in clear")
		}
		fi, _ := os.Stat(filepath.Join(dir, "tokens", tok.ID+".json"))
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
		}
		restarted := newCA(t, dir, clk, nil)
		got, err := restarted.Tokens().Redeem(tok)
		if err != nil || got != idB {
			t.Fatalf("after restart Redeem = %v, %v", got, err)
		}
	})
}

func TestTokenConcurrentRedeemHasOneWinner(t *testing.T) {
	c := newCA(t, t.TempDir(), newFakeClock(), nil)
	// Two stores over one directory stand for the CLI and the server process.
	other := newCA(t, filepath.Dir(c.Tokens().Dir()), newFakeClock(), nil)
	for round := range 20 {
		tok, err := c.Tokens().Create(idA, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := c.Tokens()
				if i%2 == 1 {
					s = other.Tokens()
				}
				if _, err := s.Redeem(tok); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: %d redeemers won, want exactly 1", round, wins)
		}
	}
}

func TestTokenNeverPrintsItsSecret(t *testing.T) {
	c := newCA(t, t.TempDir(), newFakeClock(), nil)
	tok, _ := c.Tokens().Create(idA, time.Hour)
	for _, s := range []string{tok.String(), tok.Secret.String(), fmtAll(tok), fmtAll(tok.Secret)} {
		if strings.Contains(s, tok.Secret.Reveal()) {
			t.Fatalf("secret leaked in %q", s)
		}
	}
	parsed, err := enrollproto.ParseToken(tok.Encode())
	if err != nil || parsed != tok {
		t.Fatalf("ParseToken(Encode()) = %v, %v", parsed, err)
	}
}
