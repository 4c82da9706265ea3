package ctl

import (
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
)

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{999 * time.Millisecond, "0s"},
		{42 * time.Second, "42s"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{time.Hour, "1h0m"},
		{2*time.Hour + 5*time.Minute + 59*time.Second, "2h5m"},
		{4*24*time.Hour + 2*time.Hour + 30*time.Minute, "4d2h"},
	} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestColumns(t *testing.T) {
	code, sig := 137, "SIGKILL"
	for _, tc := range []struct {
		st             api.Status
		listen, exited string
	}{
		{api.Status{}, "-", "-"},
		{api.Status{Listening: []string{"tcp:[::1]:80", "unix:/run/a.sock"}, ExitCode: &code}, "[::1]:80,unix:/run/a.sock", "137"},
		{api.Status{ExitCode: &code, ExitSignal: &sig}, "-", "SIGKILL"},
	} {
		if got := listening(tc.st.Listening); got != tc.listen {
			t.Errorf("listening = %q, want %q", got, tc.listen)
		}
		if got := lastExit(tc.st); got != tc.exited {
			t.Errorf("lastExit = %q, want %q", got, tc.exited)
		}
	}
}

// A ready instance with a full accept queue shows its warning under its
// row; a warning event prints as one line.
func TestWarningShown(t *testing.T) {
	warning := api.OverloadWarning([]api.ListenQueue{{Listen: "tcp:127.0.0.1:3000", Queued: 9, Backlog: 8}})
	var b strings.Builder
	err := writeStatus(&b, []api.Status{{Name: "api", State: api.StateRunning, Ready: true, Warning: warning}})
	if err != nil || !strings.Contains(b.String(), "\n  ↳ "+warning+"\n") {
		t.Errorf("status table:\n%s", b.String())
	}
	b.Reset()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	for _, e := range []api.Event{
		{Time: at, Name: "api", State: api.StateRunning, From: api.StateRunning, Type: api.EventWarning, Warning: warning},
		{Time: at, Name: "api", State: api.StateRunning, From: api.StateRunning, Type: api.EventWarning},
	} {
		if err := writeEvent(&b, e); err != nil {
			t.Fatal(err)
		}
	}
	if want := "03:04:05.000 api warning: " + warning + "\n03:04:05.000 api warning cleared\n"; b.String() != want {
		t.Errorf("events:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestLogPrinterShowsTimeAndMarkers(t *testing.T) {
	var b strings.Builder
	p := &logPrinter{w: &b}
	at := time.Date(2026, 12, 7, 4, 31, 57, 123456789, time.Local)
	for _, l := range []api.LogLine{
		{Time: at, Name: "api", Stream: "stdout", Line: "up"},
		{Time: at, Name: "api:10", Stream: "stderr", Line: "slow"},
		{Time: at, Name: "api", Missed: 42},
		{Name: "api", Stream: "stdout", Line: "from a file without timestamps"},
	} {
		if err := p.print(l); err != nil {
			t.Fatal(err)
		}
	}
	ts := at.Format(logTime)
	want := ts + " api | up\n" + // padded to the widest name seen so far
		ts + " api:10 ! slow\n" +
		ts + " api    ~ 42 lines missed (this reader fell behind; they are in the log file, if the process has one)\n" +
		"api    | from a file without timestamps\n"
	if b.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", b.String(), want)
	}
}
