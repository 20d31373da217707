package loadgen

import (
	"strings"
	"testing"
	"time"
)

// A real /proc/PID/stat line, with a command name containing spaces and a ')'.
const statLine = "4242 (we) ird name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 99999 1234567 890 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Duration
		err      string
	}{
		{"odd command name", statLine, 3250 * time.Millisecond, ""},
		{"no command name", "4242 S 1 2 3", 0, "no ')'"},
		{"truncated", "1 (x) S 1 2 3 4 5 6 7 8 9 10", 0, "fields after the command name"},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ten 5 0", 0, "field 14"},
		{"overflow", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 18446744073709551615 1 0", 0, "overflows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestParseStatmRSS(t *testing.T) {
	tests := []struct {
		name, in string
		want     uint64
		err      string
	}{
		{"real line", "312345 2048 1000 200 0 9000 0\n", 2048 * 4096, ""},
		{"one field", "312345", 0, "want at least 2"},
		{"not a number", "1 x 3", 0, "resident field"},
		{"overflow", "1 18446744073709551615 3", 0, "overflows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatmRSS([]byte(tc.in), 4096)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte(statLine))
	f.Add([]byte("1 (x) S 1 1 1 0 -1 0 0 0 0 0 10 5 0"))
	f.Add([]byte(")))"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseStatCPU(data)
		if err == nil && d < 0 {
			t.Fatalf("negative cpu time %v from %q", d, data)
		}
	})
}

func FuzzParseStatmRSS(f *testing.F) {
	f.Add([]byte("312345 2048 1000 200 0 9000 0\n"))
	f.Add([]byte("1 x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseStatmRSS(data, 4096)
	})
}
