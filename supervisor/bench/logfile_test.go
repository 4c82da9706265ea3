package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/output"
)

// BenchmarkLogFile: a child writing 200 MB of 100-byte lines
// (`testapp --flood 200000000`) into a log file with rotation
// (`log { file, max_size = "64MiB", max_files = 4 }`), against the same
// child writing into a plain pipe to `cat > /dev/null`, in the same run.
// What is compared is the child's own write time (`--flood-report`: from
// its first write to its last returning), which is what a slow logger
// costs an application. Target: ratio at most 1.3.
//
// Sub-benchmarks: stream=on (the lines also go to supd's own JSON stream,
// into a regular file) and stream=off (`supd_stream = false`: the log
// file only). After each run the log files must hold every line exactly
// once, in order (2,000,000 lines across api.log.3 … api.log), and supd's
// peak RSS (sampled every 5 ms) is reported.
func BenchmarkLogFile(b *testing.B) {
	for _, stream := range []bool{true, false} {
		b.Run("stream="+map[bool]string{true: "on", false: "off"}[stream], func(b *testing.B) {
			total := floodBytes()
			var runs floodRuns
			for b.Loop() {
				for range floodRounds {
					bt := childWriteTime(b, func(report string) { floodBaseline(b, total, "--flood-report", report) })
					var maxRSS, cpuSecs float64
					st := childWriteTime(b, func(report string) { maxRSS, cpuSecs = logFileSupd(b, total, stream, report) })
					runs.add(bt, st, maxRSS, cpuSecs)
				}
			}
			runs.report(b)
		})
	}
}

// childWriteTime runs run with a report file and returns the time the
// child wrote there.
func childWriteTime(b *testing.B, run func(report string)) time.Duration {
	b.Helper()
	report := filepath.Join(b.TempDir(), "report")
	run(report)
	text, err := os.ReadFile(report)
	if err != nil {
		b.Fatalf("the child reported no write time: %v", err)
	}
	ns, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(ns)
}

// logFileSupd runs the flood under supd into a rotated log file, waits for
// the child's report and the last line in the file, checks the files and
// returns supd's peak RSS in MiB and its CPU seconds until then.
func logFileSupd(b *testing.B, n int64, stream bool, report string) (float64, float64) {
	b.Helper()
	dir := b.TempDir()
	out, err := os.Create(filepath.Join(dir, "supd.out"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	s := launchIn(b, dir, writeConfig(b, dir, fmt.Sprintf(`
process "flood" {
  command = ["{{app}}", "--flood", "%d", "--flood-report", %q]
  type    = "oneshot"
  log {
    file        = "api.log"
    max_size    = "64MiB"
    max_files   = 4
    supd_stream = %t
  }
}
`, n, report, stream)), launchOpts{args: []string{"--log-level", "warn"}, output: out})
	lines := n / 100
	path := filepath.Join(dir, "api.log")
	last := []byte(fmt.Sprintf("| %09d ", lines))
	tail := make([]byte, 256)
	var maxRSS int
	deadline := time.Now().Add(5 * time.Minute)
	for done := false; !done; {
		time.Sleep(5 * time.Millisecond) // sampling RSS; the end is polled too
		maxRSS = max(maxRSS, rssKiB(s.pid()))
		if _, err := os.Stat(report); err == nil {
			if f, err := os.Open(path); err == nil {
				if st, err := f.Stat(); err == nil && st.Size() >= int64(len(tail)) {
					_, err = f.ReadAt(tail, st.Size()-int64(len(tail)))
					done = err == nil && bytes.Contains(tail, last)
				}
				f.Close()
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("the last line was not in the log file after 5 minutes")
		}
	}
	cpu := sampleCPU(s.pid())
	s.stop()
	checkLogFiles(b, path, 4, lines)
	return mib(maxRSS), float64(cpu.ticks) / 100
}

// checkLogFiles checks that path.max … path.1, path hold the lines 1 to
// lines of the flood, each exactly once, in order.
func checkLogFiles(b *testing.B, path string, maxFiles int, lines int64) {
	b.Helper()
	var n int64
	var num []byte
	err := output.ScanFiles(path, maxFiles, func(l api.LogLine) error {
		n++
		num = fmt.Appendf(num[:0], "%09d ", n)
		if !strings.HasPrefix(l.Line, string(num)) {
			return fmt.Errorf("line %q, want the child's line %d", l.Line, n)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if n != lines {
		b.Fatalf("the log files hold %d lines, want exactly %d", n, lines)
	}
}
