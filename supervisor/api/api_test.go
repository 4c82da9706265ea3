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

func TestAcceptQueueNeverNull(t *testing.T) {
	b, err := json.Marshal(Status{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"accept_queue":[]`) || !strings.Contains(string(b), `"warning":""`) {
		t.Errorf("Status encodes as %s", b)
	}
}

func TestOverloadWarning(t *testing.T) {
	for _, tc := range []struct {
		qs   []ListenQueue
		want string
	}{
		{nil, ""},
		{[]ListenQueue{{Listen: "tcp:127.0.0.1:3000", Queued: 12, Backlog: 4096}}, ""},
		{[]ListenQueue{{Listen: "tcp:127.0.0.1:3000", Queued: 4096, Backlog: 4096}},
			"overloaded: accept queue full on 127.0.0.1:3000 (4096/4096); new connections are dropped"},
		{[]ListenQueue{{Listen: "tcp:[::1]:3000", Queued: 9, Backlog: 8}, {Listen: "tcp:127.0.0.1:3001", Queued: 1, Backlog: 8}, {Listen: "unix:/run/a.sock", Queued: 8, Backlog: 8}},
			"overloaded: accept queue full on [::1]:3000 (9/8), unix:/run/a.sock (8/8); new connections are dropped"},
		{[]ListenQueue{{Listen: "tcp:127.0.0.1:3000", Queued: 5, Backlog: 0}}, ""}, // backlog unknown
	} {
		if got := OverloadWarning(tc.qs); got != tc.want {
			t.Errorf("OverloadWarning(%+v) = %q, want %q", tc.qs, got, tc.want)
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
