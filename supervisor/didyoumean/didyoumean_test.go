package didyoumean

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"api", "worker", "web", "status", "restart", "reload"}
	for _, tc := range []struct{ given, want string }{
		{"apu", "api"},
		{"wroker", "worker"},
		{"stauts", "status"},
		{"restrat", "restart"},
		{"relaod", "reload"},
		{"we", "web"},
		{"w", ""},        // one character: anything is one edit away
		{"xyzzy", ""},    // nothing close
		{"database", ""}, // nothing close
		{"api", "api"},
	} {
		if got := Closest(tc.given, known); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.given, got, tc.want)
		}
	}
}
