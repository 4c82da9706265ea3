package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// floodBytes is what the flooding child writes ($SUP_BENCH_FLOOD bytes,
// default 200 MB of 100-byte lines).
func floodBytes() int64 {
	if n, err := strconv.ParseInt(os.Getenv("SUP_BENCH_FLOOD"), 10, 64); err == nil && n >= 100 {
		return n
	}
	return 200_000_000
}

// floodRounds is how many baseline/supd pairs each iteration runs,
// alternating, so that both see the same noise.
const floodRounds = 3

// BenchmarkLogFlood: a child writing 200 MB of 100-byte lines to stdout
// (`testapp --flood 200000000`), through supd, against the same child
// writing into a plain pipe to `cat > /dev/null`. Target: ratio at most 1.3.
//
// What is timed, to be fair to both:
//   - baseline: from just before starting `cat` and testapp to both having
//     exited (cat has read every byte).
//   - supd: from just before the exec of supd (so supd's own start-up and
//     its spawn of the child count against it) to the last of the child's
//     2,000,000 line records being in supd's output, a regular file, as
//     supervisord, PM2 and process-compose write their logs. The benchmark
//     watches the end of the file every millisecond for the last line's
//     record; it reads nothing else meanwhile, so it takes no CPU from
//     supd and the child (the baseline's reader, cat, is part of it).
//
// supd runs with --log-format json --log-level warn, so that its output
// holds only the child's lines (its own records are info): after the run
// the file must hold exactly 2,000,000 records, the child's lines in
// order. supd's RSS is sampled every 5ms meanwhile (rss-max-MiB). base-s
// and supd-s are the best of the rounds, ratio is their quotient,
// ratio-median the median of the per-round quotients; supd-cpu-s is supd's
// CPU time (user+system) until the last line was out.
func BenchmarkLogFlood(b *testing.B) {
	total := floodBytes()
	var runs floodRuns
	for b.Loop() {
		for range floodRounds {
			bd := floodBaseline(b, total)
			sd, maxRSS, cpuSecs := floodSupd(b, total)
			runs.add(bd, sd, maxRSS, cpuSecs)
		}
	}
	runs.report(b)
}

// floodRuns are the rounds of a flood benchmark.
type floodRuns struct{ base, sup, ratios, rss, cpu []float64 }

// add records a round: the baseline's and supd's times, supd's peak RSS
// (MiB) and CPU seconds.
func (r *floodRuns) add(base, sup time.Duration, rssMiB, cpuSecs float64) {
	r.base = append(r.base, base.Seconds())
	r.sup = append(r.sup, sup.Seconds())
	r.ratios = append(r.ratios, sup.Seconds()/base.Seconds())
	r.rss = append(r.rss, rssMiB)
	r.cpu = append(r.cpu, cpuSecs)
}

// report reports base-s and supd-s (the best rounds), ratio (their
// quotient), ratio-median, rss-max-MiB and supd-cpu-s (median).
func (r *floodRuns) report(b *testing.B) {
	b.ReportMetric(quantile(r.base, 0), "base-s")
	b.ReportMetric(quantile(r.sup, 0), "supd-s")
	b.ReportMetric(quantile(r.sup, 0)/quantile(r.base, 0), "ratio")
	b.ReportMetric(median(r.ratios), "ratio-median")
	b.ReportMetric(quantile(r.rss, 1), "rss-max-MiB")
	b.ReportMetric(median(r.cpu), "supd-cpu-s")
}

// floodBaseline times `testapp --flood n [extra...] | cat > /dev/null`.
func floodBaseline(b *testing.B, n int64, extra ...string) time.Duration {
	b.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	cat := exec.Command("cat")
	cat.Stdin, cat.Stdout, cat.Stderr = pr, devnull, os.Stderr
	app := exec.Command(filepath.Join(binaries(b), "testapp"), append([]string{"--flood", strconv.FormatInt(n, 10)}, extra...)...)
	app.Stdout, app.Stderr = pw, os.Stderr
	t0 := time.Now()
	if err := cat.Start(); err != nil {
		b.Fatal(err)
	}
	if err := app.Start(); err != nil {
		cat.Process.Kill()
		cat.Wait()
		b.Fatal(err)
	}
	pr.Close()
	pw.Close()
	errApp, errCat := app.Wait(), cat.Wait()
	d := time.Since(t0)
	if errApp != nil || errCat != nil {
		b.Fatalf("baseline: testapp: %v, cat: %v", errApp, errCat)
	}
	return d
}

// floodSupd runs the flood under supd and returns the time to the last
// line in supd's output, supd's peak RSS in MiB and its CPU seconds.
func floodSupd(b *testing.B, n int64) (time.Duration, float64, float64) {
	b.Helper()
	lines := n / 100
	lastMsg := []byte(fmt.Sprintf(`"message":"%09d `, lines))
	dir := b.TempDir()
	out, err := os.Create(filepath.Join(dir, "supd.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	s := launchIn(b, dir, writeConfig(b, dir, fmt.Sprintf(`
process "flood" {
  command = ["{{app}}", "--flood", "%d"]
  type    = "oneshot"
}
`, n)), launchOpts{args: []string{"--log-level", "warn"}, output: out})

	var maxRSS int
	var end time.Time
	tail := make([]byte, 512)
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	deadline := time.Now().Add(5 * time.Minute)
	for k := 0; ; k++ {
		<-poll.C
		if k%5 == 0 {
			maxRSS = max(maxRSS, rssKiB(s.pid()))
		}
		if st, err := out.Stat(); err == nil && st.Size() >= int64(len(tail)) {
			if _, err := out.ReadAt(tail, st.Size()-int64(len(tail))); err == nil && bytes.Contains(tail, lastMsg) {
				end = time.Now()
				break
			}
		}
		select {
		case <-s.done:
			b.Fatalf("supd exited before the last line was out")
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("the last line was not out after 5 minutes")
		}
	}
	maxRSS = max(maxRSS, rssKiB(s.pid()))
	cpu := sampleCPU(s.pid())
	s.stop()
	checkFloodLog(b, out.Name(), lines)
	return end.Sub(s.started), mib(maxRSS), float64(cpu.ticks) / 100
}

// checkFloodLog checks that supd's output holds exactly the child's lines,
// in order, and nothing else.
func checkFloodLog(b *testing.B, path string, lines int64) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	defer os.Remove(path)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := []byte(`{"process":"flood","instance":0,"stream":"stdout","time":"`)
	var want int64
	num := make([]byte, 0, 16)
	for sc.Scan() {
		want++
		rec := sc.Bytes()
		num = fmt.Appendf(num[:0], `","message":"%09d `, want)
		if !bytes.HasPrefix(rec, prefix) || !bytes.Contains(rec, num) {
			b.Fatalf("record %d of supd's output is not the child's line %d: %q", want, want, rec)
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	if want != lines {
		b.Fatalf("supd's output held %d records, want exactly %d", want, lines)
	}
}
