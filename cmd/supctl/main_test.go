package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the tests run the test binary as supctl itself.
func TestMain(m *testing.M) {
	if os.Getenv("SUPCTL_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestExitCodes runs supctl for real: the exit codes and what it prints.
func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "supd.sock")
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"help"}, 0, "usage: supctl", ""},
		{[]string{"status", "-h"}, 0, "usage: supctl status", ""},
		{nil, 2, "", "supctl: missing command\n\nusage: supctl"},
		{[]string{"frobnicate"}, 2, "", "supctl: unknown command \"frobnicate\"\n\nusage: supctl"},
		{[]string{"start"}, 2, "", "supctl: missing NAME (all: every process)\n\nusage: supctl start"},
		{[]string{"stauts"}, 2, "", "supctl: unknown command \"stauts\"; did you mean \"status\"?\n\nusage: supctl"},
		{[]string{"--version"}, 0, "supctl ", ""},
		{[]string{"--socket", missing, "status"}, 3, "", "supctl: cannot reach supd at " + missing +
			": connect: no such file or directory (no socket there; is supd running? set --socket PATH or $SUPD_SOCKET)\n"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], tc.args...)
		cmd.Env = append(os.Environ(), "SUPCTL_TEST_MAIN=1", "SUPD_SOCKET="+missing)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		code := 0
		if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.HasPrefix(stderr.String(), tc.stderr) {
			t.Errorf("supctl %q: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, stdout.String(), stderr.String())
		}
	}
}
