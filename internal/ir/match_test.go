package ir

import "testing"

func TestMatchPath(t *testing.T) {
	tests := []struct {
		name, pattern, path string
		want                bool
	}{
		{name: "exact", pattern: "/books", path: "/books", want: true},
		{name: "exact does not match a longer path", pattern: "/books", path: "/books/1", want: false},
		{name: "prefix", pattern: "/books*", path: "/books/1", want: true},
		{name: "prefix does not match another path", pattern: "/books*", path: "/reviews", want: false},
		{name: "suffix", pattern: "*books/", path: "/api/books/", want: true},
		{name: "suffix does not match another ending", pattern: "*books/", path: "/api/books", want: false},
		{name: "any", pattern: "*", path: "/whatever", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchPath(tt.pattern, tt.path); got != tt.want {
				t.Fatalf("matchPath(%q, %q) = %v", tt.pattern, tt.path, got)
			}
		})
	}
}

func TestHeaderMatchCheck(t *testing.T) {
	headers := func(m map[string][]string) Headers { return func(n string) []string { return m[n] } }
	tests := []struct {
		name  string
		match HeaderMatch
		h     Headers
		want  string
	}{
		{name: "exact value", match: HeaderMatch{Name: "x-env", Values: []string{"prod"}}, h: headers(map[string][]string{"x-env": {"prod"}})},
		{name: "prefix value", match: HeaderMatch{Name: "x-env", Values: []string{"pro*"}}, h: headers(map[string][]string{"x-env": {"prod"}})},
		{name: "missing header", match: HeaderMatch{Name: "x-env", Values: []string{"prod"}}, want: "header x-env is missing"},
		{name: "wrong value", match: HeaderMatch{Name: "x-env", Values: []string{"prod", "stage"}}, h: headers(map[string][]string{"x-env": {"dev"}}),
			want: `header x-env value "dev" matches none of prod, stage`},
		{name: "excluded value", match: HeaderMatch{Name: "x-env", NotValues: []string{"*dev"}}, h: headers(map[string][]string{"x-env": {"old-dev"}}),
			want: `header x-env value "old-dev" is excluded by "*dev"`},
		{name: "only exclusions and no header passes", match: HeaderMatch{Name: "x-env", NotValues: []string{"dev"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.match.check(tt.h); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
