package ir

import "testing"

func TestParseHostPattern(t *testing.T) {
	tests := []struct {
		name, in, want, err string
	}{
		{name: "exact host is lower-cased", in: "WWW.Google.com", want: "www.google.com"},
		{name: "trailing dot is dropped", in: "www.google.com.", want: "www.google.com"},
		{name: "wildcard first label", in: "*.Google.com", want: "*.google.com"},
		{name: "match-all", in: "*", want: "*"},
		{name: "empty", in: "", err: `host "": empty`},
		{name: "wildcard inside a label", in: "w*.google.com", err: `host "w*.google.com": a wildcard is allowed only as the whole first label`},
		{name: "wildcard in a later label", in: "www.*.com", err: `host "www.*.com": a wildcard is allowed only as the whole first label`},
		{name: "empty label", in: "www..com", err: `host "www..com": empty or over-long label`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHostPattern(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestHostPatternMatches(t *testing.T) {
	tests := []struct {
		name    string
		pattern HostPattern
		host    string
		want    bool
	}{
		{name: "exact matches itself in any case", pattern: "www.google.com", host: "WWW.GOOGLE.COM", want: true},
		{name: "exact does not match a subdomain", pattern: "google.com", host: "www.google.com", want: false},
		{name: "wildcard matches one label", pattern: "*.google.com", host: "www.google.com", want: true},
		{name: "wildcard matches several labels", pattern: "*.google.com", host: "a.b.google.com", want: true},
		{name: "wildcard does not match the bare suffix", pattern: "*.google.com", host: "google.com", want: false},
		{name: "wildcard does not match a longer label ending the same way", pattern: "*.google.com", host: "notgoogle.com", want: false},
		{name: "match-all matches anything", pattern: "*", host: "example.org", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.pattern.Matches(tt.host); got != tt.want {
				t.Fatalf("%q.Matches(%q) = %v", tt.pattern, tt.host, got)
			}
		})
	}
}

func TestHostPatternCovers(t *testing.T) {
	tests := []struct {
		name     string
		h, other HostPattern
		want     bool
	}{
		{name: "same host", h: "www.google.com", other: "www.google.com", want: true},
		{name: "wildcard covers a host under it", h: "*.google.com", other: "www.google.com", want: true},
		{name: "wildcard covers a narrower wildcard", h: "*.google.com", other: "*.mail.google.com", want: true},
		{name: "narrower wildcard does not cover a wider one", h: "*.mail.google.com", other: "*.google.com", want: false},
		{name: "exact does not cover a wildcard", h: "www.google.com", other: "*.google.com", want: false},
		{name: "match-all covers everything", h: "*", other: "*.google.com", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.Covers(tt.other); got != tt.want {
				t.Fatalf("%q.Covers(%q) = %v", tt.h, tt.other, got)
			}
		})
	}
}

func FuzzParseHostPattern(f *testing.F) {
	for _, s := range []string{"www.google.com", "*.google.com", "*", "a..b", "*.*.x", "W*.x", ".", "*."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHostPattern(s)
		if err != nil {
			return
		}
		again, err := ParseHostPattern(string(h))
		if err != nil || again != h {
			t.Fatalf("%q parsed to %q, which does not parse to itself: %q %v", s, h, again, err)
		}
		if !h.Covers(h) {
			t.Fatalf("%q does not cover itself", h)
		}
		if !h.IsWildcard() && !h.Matches(string(h)) {
			t.Fatalf("%q does not match itself", h)
		}
	})
}
