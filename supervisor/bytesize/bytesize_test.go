package bytesize

import (
	"strings"
	"testing"
)

// Format writes what Parse reads back when a unit divides it, and
// one decimal of the largest unit otherwise.
func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {512, "512B"}, {1023, "1023B"}, {1024, "1KiB"}, {2048, "2KiB"}, {1536, "1.5KiB"},
		{100 << 20, "100MiB"}, {12_897_485, "12.3MiB"}, {3 << 29, "1.5GiB"}, {1 << 30, "1GiB"},
		{5 << 40, "5TiB"}, {2048 << 40, "2048TiB"}, {1_000_000, "976.6KiB"},
	} {
		got := Format(tc.n)
		if got != tc.want {
			t.Errorf("Format(%d) = %q, want %q", tc.n, got, tc.want)
		}
		if tc.n < 1<<40 && !strings.Contains(got, ".") {
			if back, err := Parse(got); err != nil || back != tc.n {
				t.Errorf("Parse(Format(%d) = %q) = %d, %v", tc.n, got, back, err)
			}
		}
	}
}

func TestParse(t *testing.T) {
	good := map[string]int64{"0": 0, "1024": 1024, "1B": 1, "2KiB": 2048, "3 MiB": 3 << 20, "1GiB": 1 << 30,
		"5KB": 5000, "6MB": 6e6, "7GB": 7e9, "8mib": 8 << 20}
	for in, want := range good {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1.5GiB", "1TiB", "99999999999GiB", "99999999999999999999"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
		}
	}
}
