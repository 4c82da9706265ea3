package main

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--listen", "tcp:127.0.0.1:1", "--listen", "unix:/a.sock",
		"--delay", "2s", "--exit-after", "1m", "--notification-fd", "4", "--partial", ""})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.listen, []string{"tcp:127.0.0.1:1", "unix:/a.sock"}) || o.delay != 2*time.Second ||
		o.exitAfter != time.Minute || o.exitCode != -1 || o.notificationFD != 4 || !o.partialSet {
		t.Errorf("options %+v", o)
	}
	for _, bad := range [][]string{{"--bogus"}, {"extra"}, {"--delay", "soon"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestFlood(t *testing.T) {
	var b bytes.Buffer
	if err := flood(&b, 1000); err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b.Bytes(), []byte("\n"))
	if b.Len() != 1000 || len(lines) != 11 || len(lines[9]) != 100 || !bytes.HasPrefix(lines[9], []byte("000000010 x")) {
		t.Errorf("flood wrote %d bytes: %q", b.Len(), lines[:2])
	}
}

func TestListenAllRejects(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:1", "udp:127.0.0.1:1"} {
		if _, err := listenAll([]string{bad}, 0); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
