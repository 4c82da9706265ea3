package signame

import (
	"strings"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want syscall.Signal
		err  string
	}{
		{in: "SIGHUP", want: syscall.SIGHUP},
		{in: "HUP", want: syscall.SIGHUP},
		{in: "hup", want: syscall.SIGHUP},
		{in: " sigusr1 ", want: syscall.SIGUSR1},
		{in: "Term", want: syscall.SIGTERM},
		{in: "1", err: `signal "1": write its name, SIGHUP`},
		{in: "9", err: "write its name, SIGKILL"},
		{in: "0", err: "write a name such as"},
		{in: "-1", err: "write a name such as"},
		{in: "SIGNOPE", err: `unknown signal "SIGNOPE"`},
		{in: "", err: "unknown signal"},
	} {
		got, err := Parse(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Parse(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestNameRoundTrip(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGKILL, syscall.SIGUSR2, syscall.SIGWINCH} {
		got, err := Parse(Name(sig))
		if err != nil || got != sig {
			t.Errorf("Parse(Name(%d) = %q) = %v, %v", sig, Name(sig), got, err)
		}
	}
	if got := Name(syscall.Signal(40)); got != "40" {
		t.Errorf("Name(40) = %q, want \"40\"", got)
	}
}
