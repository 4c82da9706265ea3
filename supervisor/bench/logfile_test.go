package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
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
			var base, sup, ratios, rss []float64
			for b.Loop() {
				for range floodRounds {
					bt := childWriteTime(b, func(report string) { floodBaseline(b, total, "--flood-report", report) })
					var maxRSS float64
					st := childWriteTime(b, func(report string) { maxRSS = logFileSupd(b, total, stream, report) })
					base = append(base, bt.Seconds())
					sup = append(sup, st.Seconds())
					ratios = append(ratios, st.Seconds()/bt.Seconds())
					rss = append(rss, maxRSS)
				}
			}
			b.ReportMetric(quantile(base, 0), "base-s")
			b.ReportMetric(quantile(sup, 0), "supd-s")
			b.ReportMetric(quantile(sup, 0)/quantile(base, 0), "ratio")
			b.ReportMetric(median(ratios), "ratio-median")
			b.ReportMetric(quantile(rss, 1), "rss-max-MiB")
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
// returns supd's peak RSS in MiB.
func logFileSupd(b *testing.B, n int64, stream bool, report string) float64 {
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
	s.stop()
	checkLogFiles(b, path, 4, lines)
	return mib(maxRSS)
}

// checkLogFiles checks that path.max … path.1, path hold the lines 1 to
// lines of the flood, each exactly once, in order.
func checkLogFiles(b *testing.B, path string, maxFiles int, lines int64) {
	b.Helper()
	var want int64 = 1
	num := make([]byte, 0, 16)
	for k := maxFiles; k >= 0; k-- {
		name := path
		if k > 0 {
			name = path + "." + strconv.Itoa(k)
		}
		f, err := os.Open(name)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			num = fmt.Appendf(num[:0], " | %09d ", want)
			if !bytes.Contains(sc.Bytes(), num) {
				f.Close()
				b.Fatalf("%s: line %q, want the child's line %d", name, sc.Bytes(), want)
			}
			want++
		}
		f.Close()
		if err := sc.Err(); err != nil {
			b.Fatal(err)
		}
	}
	if want-1 != lines {
		b.Fatalf("the log files hold %d lines, want exactly %d", want-1, lines)
	}
}
