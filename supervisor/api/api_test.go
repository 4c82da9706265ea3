package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStatusJSONListeningNeverNull(t *testing.T) {
	for _, v := range []any{Status{Name: "api"}, &Status{Name: "api"}, Why{}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"listening":[]`) || strings.Contains(string(b), `"listening":null`) {
			t.Errorf("%T encodes as %s", v, b)
		}
	}
}

func TestExitText(t *testing.T) {
	one, sig := 1, "SIGKILL"
	for _, tc := range []struct {
		code *int
		sig  *string
		want string
	}{
		{nil, nil, ""},
		{&one, nil, "exited 1"},
		{nil, &sig, "killed by SIGKILL"},
		{&one, &sig, "killed by SIGKILL"},
	} {
		if got := ExitText(tc.code, tc.sig); got != tc.want {
			t.Errorf("ExitText = %q, want %q", got, tc.want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 restarts", 1: "1 restart", 2: "2 restarts", 11: "11 restarts"} {
		if got := Count(n, "restart"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
