package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// Orphan storm: stormInstances instances each start stormOrphans children
// that exit at once, and exit without waiting for them.
const (
	stormInstances = 10
	stormOrphans   = 1000
)

// stormCommand is what an instance runs once goFile exists (at once when
// goFile is ""): an orphaner that starts n orphans and exits, then the line
// done and a long sleep. By default the orphaner is sh and each orphan a
// /bin/true started from a subshell that exits at once (sh would reap its
// own background jobs), so that supd, not sh, must reap it: about 2,000
// orphans a second on 2 cores. With $SUP_BENCH_ORPHANS=testapp the orphaner
// is `testapp --orphans` (each orphan a Go program: about 700 a second).
func stormCommand(goFile string, n int, done string) string {
	orphaner := fmt.Sprintf(`sh -c 'i=0; while [ $i -lt %d ]; do ( /bin/true & ); i=$((i+1)); done'`, n)
	if os.Getenv("SUP_BENCH_ORPHANS") == "testapp" {
		orphaner = fmt.Sprintf("{{app}} --orphans %d --exit 0", n)
	}
	wait := ""
	if goFile != "" {
		wait = fmt.Sprintf("while [ ! -e %s ]; do sleep 0.02; done; ", goFile)
	}
	return fmt.Sprintf(`%s%s; echo %s; exec sleep 100000`, wait, orphaner, done)
}

// BenchmarkOrphanStorm: 10,000 short-lived orphans re-parented to supd (a
// child subreaper). Ten instances wait for a go file, then each start 1000
// processes that exit at once and exit without waiting for them, as fast
// as the machine forks (see stormCommand). The storm is over when every
// orphan is gone and supd has no zombie child. Targets: none left as a
// zombie, supd's RSS growth under 2 MiB.
//
// storm-s is from the go file to the storm being over (orphans/s from it),
// drain-ms from the last orphaner's exit (all orphans re-parented by then)
// to the storm being over, rss-growth-MiB the RSS one second after the
// storm minus the RSS just before it (anon-growth-MiB: its anonymous part),
// max-zombies the most zombie children
// of supd seen at once while sampling every 2ms (an orphaner that exits
// hands its already exited children to supd all at once), zombies-left
// those 500ms after the storm; supd-cpu-s is supd's CPU time in the storm.
// A warm-up storm of 200 orphans runs first and is over before the RSS is
// taken: supd gives back its start-up pages once all is ready, and the
// code that reaps orphans and logs their lines is mapped back in by the
// first orphans, whatever their number; the growth is what the 10,000 add.
func BenchmarkOrphanStorm(b *testing.B) {
	var storm, drain, growth, anonGrowth, maxZombies, left, cpu []float64
	for b.Loop() {
		dir := b.TempDir()
		goFile := filepath.Join(dir, "go")
		s := launchIn(b, dir, writeConfig(b, dir, fmt.Sprintf(`
process "storm" {
  command   = ["sh", "-c", %q]
  instances = %d
}
process "warm" {
  command = ["sh", "-c", %q]
}
`, stormCommand(goFile, stormOrphans, "storm done"), stormInstances, stormCommand("", 200, "warm done"))), launchOpts{})
		running := s.waitAll(stormInstances+1, 20*time.Second, "running", isState("running"))
		ours := map[int]bool{}
		for _, r := range running {
			ours[r.Pid] = true
		}
		// children counts supd's zombie children and those that are not
		// the instances (orphans not yet gone).
		children := func() (zombies, others int) {
			for _, c := range suptest.Children(s.pid()) {
				switch {
				case c.State == 'Z':
					zombies++
				case !ours[c.Pid]:
					others++
				}
			}
			return zombies, others
		}
		s.wait(0, 20*time.Second, "warm-up storm", func(r record) bool { return r.Stream == "stdout" && r.Message == "warm done" })
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if z, others := children(); z == 0 && others == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("warm-up storm not over after 20s")
			}
		}
		time.Sleep(time.Second)
		rss0, anon0 := rssKiB(s.pid()), anonKiB(s.pid())
		cpu0 := sampleCPU(s.pid())

		t0 := time.Now()
		if err := os.WriteFile(goFile, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		printed := 0
		from := 0
		zombies := 0
		var lastPrinted time.Time
		deadline := time.Now().Add(50 * time.Second)
		for {
			for printed < stormInstances {
				if r, next, ok := s.poll(from, func(r record) bool { return r.Stream == "stdout" && r.Message == "storm done" }); ok {
					printed++
					from = next
					lastPrinted = r.Time
					continue
				}
				break
			}
			z, others := children()
			zombies = max(zombies, z)
			if printed == stormInstances && z == 0 && others == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("storm not over after 50s: %d of %d instances done, %d zombies, %d other children", printed, stormInstances, z, others)
			}
			time.Sleep(2 * time.Millisecond)
		}
		over := time.Now()
		cpu1 := sampleCPU(s.pid())
		time.Sleep(500 * time.Millisecond)
		z, _ := children()
		time.Sleep(500 * time.Millisecond)
		storm = append(storm, over.Sub(t0).Seconds())
		drain = append(drain, ms(over.Sub(lastPrinted)))
		cpu = append(cpu, float64(cpu1.ticks-cpu0.ticks)/100)
		growth = append(growth, mib(rssKiB(s.pid())-rss0))
		anonGrowth = append(anonGrowth, mib(anonKiB(s.pid())-anon0))
		maxZombies = append(maxZombies, float64(zombies))
		left = append(left, float64(z))
		s.stop()
	}
	b.ReportMetric(median(storm), "storm-s")
	b.ReportMetric(stormInstances*stormOrphans/median(storm), "orphans/s")
	b.ReportMetric(median(drain), "drain-ms")
	b.ReportMetric(median(growth), "rss-growth-MiB")
	b.ReportMetric(median(anonGrowth), "anon-growth-MiB")
	b.ReportMetric(median(cpu), "supd-cpu-s")
	b.ReportMetric(quantile(maxZombies, 1), "max-zombies")
	b.ReportMetric(quantile(left, 1), "zombies-left")
}
