package enrollproto

import (
	"strings"
	"testing"
)

func FuzzParseToken(f *testing.F) {
	good, err := NewToken(strings.Repeat("ab", 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good.Encode())
	f.Add("egret1...")
	f.Add("egret1.0123456789abcdef.x." + strings.Repeat("0", 64))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			if strings.Contains(err.Error(), s) && len(s) > 8 {
				t.Fatalf("error repeats the input: %v", err)
			}
			return
		}
		again, err := ParseToken(tok.Encode())
		if err != nil || again != tok {
			t.Fatalf("round trip: %v %v", again, err)
		}
		if parts := strings.Split(tok.String(), "."); len(parts) != 4 || parts[2] != "[redacted]" {
			t.Fatal("String leaks the secret")
		}
	})
}
