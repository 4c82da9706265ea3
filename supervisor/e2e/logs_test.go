package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/output"
)

// readLogLines returns the text of the lines of path and its rotated
// files, oldest first, checking that each starts with a time and that no
// file ends in a partial line.
func readLogLines(t *testing.T, path string, max int) []string {
	t.Helper()
	var out []string
	err := output.ScanFiles(path, max, func(l api.LogLine) error {
		if l.Time.IsZero() {
			return fmt.Errorf("line %q has no time", l.Line)
		}
		out = append(out, l.Line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLogFileHasEveryLineAndLogsReadsItBack(t *testing.T) {
	s := startSupd(t, `
process "talker" {
  command = ["sh", "-c", "{{app}} --lines 20000 --exit 0 && {{app}} --partial 'last words, no newline'"]
  restart { policy = "never" }
  log { file = "talker.log" }
}`)
	path := filepath.Join(s.dir, "talker.log")
	s.waitState("talker", api.StateExited)
	eventually(t, 10*time.Second, "the partial line in the file", func() bool {
		b, _ := os.ReadFile(path)
		return strings.HasSuffix(string(b), "| last words, no newline\n")
	})
	lines := readLogLines(t, path, 0)
	if len(lines) != 20001 {
		t.Fatalf("%d lines in the file, want 20001", len(lines))
	}
	for i, l := range lines[:20000] {
		if want := "line " + strconv.Itoa(i+1); l != want {
			t.Fatalf("line %d is %q, want %q", i, l, want)
		}
	}

	out, code := s.ctl("logs", "-n", "20001", "talker")
	if code != 0 {
		t.Fatalf("supctl logs: exit %d: %.500s", code, out)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != 20001 {
		t.Fatalf("supctl logs -n 20001 printed %d lines, want 20001", len(got))
	}
	for i, l := range got {
		want := "talker | line " + strconv.Itoa(i+1)
		if i == 20000 {
			want = "talker | last words, no newline"
		}
		ts, rest, _ := strings.Cut(l, " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || rest != want {
			t.Fatalf("supctl logs line %d is %q, want TIME %q", i, l, want)
		}
	}
	// --since without -n: every line of the last hour, from the file.
	if out, code := s.ctl("logs", "--since", "1h", "talker"); code != 0 || strings.Count(out, "\n") != 20001 {
		t.Errorf("logs --since 1h: exit %d, %d lines", code, strings.Count(out, "\n"))
	}
}

func TestRotationUnderFloodKeepsAGapFreeRun(t *testing.T) {
	s := startSupd(t, `
process "flood" {
  command = ["{{app}}", "--flood", "20000000"]
  restart { policy = "never" }
  log {
    file        = "flood.log"
    max_size    = "1MiB"
    max_files   = 3
    supd_stream = false # the file is what is tested; the stream of a race-built supd is slow
  }
}`)
	path := filepath.Join(s.dir, "flood.log")
	const n = 200000
	last := fmt.Sprintf("%09d ", n)
	s.waitState("flood", api.StateExited)
	eventually(t, 20*time.Second, "the last line in the file", func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), "| "+last)
	})
	for k := 0; k <= 4; k++ {
		name := path
		if k > 0 {
			name = path + "." + strconv.Itoa(k)
		}
		st, err := os.Stat(name)
		switch {
		case k == 4:
			if err == nil {
				t.Errorf("%s exists: a fourth rotated file", name)
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case st.Size() > 1<<20:
			t.Errorf("%s has %d bytes, over 1MiB", name, st.Size())
		}
	}
	lines := readLogLines(t, path, 3)
	first, err := strconv.Atoi(strings.Fields(lines[0])[0])
	if err != nil {
		t.Fatal(err)
	}
	for k, l := range lines {
		if got, _ := strconv.Atoi(strings.Fields(l)[0]); got != first+k {
			t.Fatalf("kept line %d is %d, want %d: a gap or a duplicate", k, got, first+k)
		}
	}
	if end := first + len(lines) - 1; end != n {
		t.Fatalf("the kept run ends at %d, want %d", end, n)
	}
}

func TestStoppingSupdDuringAFloodLosesNothing(t *testing.T) {
	dir := t.TempDir()
	lastFile := filepath.Join(dir, "last")
	// echo is a shell builtin: one write(2) per line. On SIGTERM the trap
	// records w, the last line whose echo had returned; the one being
	// echoed then may or may not have been written.
	s := startSupd(t, fmt.Sprintf(`
process "flood" {
  command = ["sh", "-c", "trap 'echo $w > %s; exit 0' TERM; i=0; while :; do i=$((i+1)); echo $i; w=$i; done"]
  log {
    file        = "flood.log"
    supd_stream = false
  }
}`, lastFile))
	path := filepath.Join(s.dir, "flood.log")
	eventually(t, 10*time.Second, "a flood under way", func() bool {
		st, err := os.Stat(path)
		return err == nil && st.Size() > 1<<20
	})
	if code := s.terminate(30 * time.Second); code != 0 {
		t.Fatalf("supd exited %d", code)
	}
	b, err := os.ReadFile(lastFile)
	if err != nil {
		t.Fatalf("the child did not record its last line: %v", err)
	}
	written, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	lines := readLogLines(t, path, 5)
	if len(lines) != written && len(lines) != written+1 {
		t.Fatalf("the child wrote %d lines (or %d), the file has %d", written, written+1, len(lines))
	}
	for k, l := range lines {
		if l != strconv.Itoa(k+1) {
			t.Fatalf("line %d is %q", k, l)
		}
	}
}

func TestFullDiskNeverBlocksTheChild(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { // after supd's own cleanup, which closes the file
		if out, err := exec.Command("umount", disk).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	s := startSupd(t, fmt.Sprintf(`
process "chatty" {
  command = ["{{app}}", "--flood", "5000000"]
  restart { policy = "never" }
  log { file = "%s/chatty.log" }
}`, disk))
	// 5 MB into 1 MiB: the child still writes everything and exits 0.
	st := s.waitState("chatty", api.StateExited)
	if st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("chatty: %+v", st)
	}
	st = s.waitFor("chatty", 10*time.Second, "counting dropped lines", func(st api.Status) bool { return st.LogDropped > 0 })
	if st.LogDropped >= 50000 {
		t.Errorf("log_dropped %d: nothing was written", st.LogDropped)
	}
	why, code := s.ctl("why", "chatty")
	if !strings.Contains(why, "could not be written to "+disk+"/chatty.log") {
		t.Errorf("why (exit %d) does not mention the log file:\n%s", code, why)
	}
	if !strings.Contains(s.out.String(), "cannot write log file") {
		t.Error("supd's log does not say that the log file drops lines")
	}
}

func TestFollowerGetsEveryLineOrAMarker(t *testing.T) {
	s := startSupd(t, `
process "flood" {
  command = ["sh", "-c", "echo waiting; while [ ! -e {{dir}}/go ]; do sleep 0.02; done; exec {{app}} --flood 20000000"]
  restart { policy = "never" }
}`)
	s.waitReady("flood")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "supctl"), "--socket", s.socket, "logs", "-f", "-n", "1", "flood")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	defer func() { // interrupt supctl, let the reader finish, reap it
		cancel()
		for range lines {
		}
		cmd.Wait()
	}()
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("supctl logs -f ended")
			}
			return l
		case <-time.After(30 * time.Second):
			t.Fatal("supctl logs -f printed nothing for 30s")
		}
		return ""
	}
	if l := next(); !strings.HasSuffix(l, "flood | waiting") {
		t.Fatalf("first line %q", l)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 200000
	missed := regexp.MustCompile(` flood ~ (\d+) lines missed`)
	seen, markers := 0, 0
	for seen < n {
		l := next()
		if m := missed.FindStringSubmatch(l); m != nil {
			k, _ := strconv.Atoi(m[1])
			seen += k
			markers++
			continue
		}
		_, text, ok := strings.Cut(l, " flood | ")
		if !ok {
			t.Fatalf("line %q", l)
		}
		if got, _ := strconv.Atoi(strings.Fields(text)[0]); got != seen+1 {
			t.Fatalf("after %d lines got line %d: a silent gap or a duplicate", seen, got)
		}
		seen++
	}
	if seen != n {
		t.Fatalf("accounted for %d lines, want %d", seen, n)
	}
	t.Logf("%d markers", markers)
}

func TestHooksFireWithoutDelayingRestarts(t *testing.T) {
	record := filepath.Join(t.TempDir(), "hook")
	s := startSupd(t, fmt.Sprintf(`
process "crasher" {
  command = ["sh", "-c", "echo about to fail; exit 4"]
  restart {
    backoff     = "50ms"
    max_backoff = "100ms"
  }
}
hook "crash" {
  command = ["sh", "-c", "echo $SUP_EVENT $SUP_NAME $SUP_EXIT_CODE $SUP_COUNT >> %s; cat >> %s; sleep 60"]
  timeout = "2s"
}`, record, record))
	// The hook sleeps far longer than the backoff: restarts go on.
	s.waitFor("crasher", 20*time.Second, "restarted 10 times", func(st api.Status) bool { return st.Restarts >= 10 })
	eventually(t, 10*time.Second, "the hook's record", func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "about to fail\n")
	})
	b, _ := os.ReadFile(record)
	if !strings.HasPrefix(string(b), "crash crasher 4 1\n") {
		t.Errorf("hook record %q", b)
	}
	// Once per 30 s while it crash-loops; the one run was killed at its timeout.
	if strings.Count(string(b), "crash crasher") != 1 {
		t.Errorf("the hook ran more than once in its window: %q", b)
	}
	eventually(t, 10*time.Second, "the timeout logged", func() bool { return strings.Contains(s.out.String(), "hook timed out") })
}
