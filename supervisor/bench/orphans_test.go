package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Orphan storm: stormInstances instances each start stormOrphans children
// that exit at once, and exit without waiting for them.
const (
	stormInstances = 10
	stormOrphans   = 1000
)

// stormCommand is what an instance runs once the go file exists: an
// orphaner that starts the orphans and exits, then a line and a long sleep.
// By default the orphaner is sh and each orphan a /bin/true started from a
// subshell that exits at once (sh would reap its own background jobs), so
// that supd, not sh, must reap it: about 2,000 orphans a second on 2
// cores. With $SUP_BENCH_ORPHANS=testapp the orphaner is `testapp
// --orphans` (each orphan a Go program: about 700 a second).
func stormCommand(goFile string) string {
	orphaner := fmt.Sprintf(`sh -c 'i=0; while [ $i -lt %d ]; do ( /bin/true & ); i=$((i+1)); done'`, stormOrphans)
	if os.Getenv("SUP_BENCH_ORPHANS") == "testapp" {
		orphaner = fmt.Sprintf("{{app}} --orphans %d --exit 0", stormOrphans)
	}
	return fmt.Sprintf(`while [ ! -e %s ]; do sleep 0.02; done; %s; echo storm done; exec sleep 100000`, goFile, orphaner)
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
// storm minus the RSS just before it, max-zombies the most zombie children
// of supd seen at once while sampling every 2ms (an orphaner that exits
// hands its already exited children to supd all at once), zombies-left
// those 500ms after the storm; supd-cpu-s is supd's CPU time in the storm.
func BenchmarkOrphanStorm(b *testing.B) {
	var storm, drain, growth, maxZombies, left, cpu []float64
	for b.Loop() {
		dir := b.TempDir()
		goFile := filepath.Join(dir, "go")
		s := launchIn(b, dir, writeConfig(b, dir, fmt.Sprintf(`
process "storm" {
  command   = ["sh", "-c", %q]
  instances = %d
}
`, stormCommand(goFile), stormInstances)), launchOpts{})
		running := s.waitAll(stormInstances, 20*time.Second, "running", isState("running"))
		ours := map[int]bool{}
		for _, r := range running {
			ours[r.Pid] = true
		}
		time.Sleep(time.Second)
		rss0 := rssKiB(s.pid())
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
			z, others := 0, 0
			for _, c := range childrenOf(s.pid()) {
				switch {
				case c.zombie:
					z++
				case !ours[c.pid]:
					others++
				}
			}
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
		z := 0
		for _, c := range childrenOf(s.pid()) {
			if c.zombie {
				z++
			}
		}
		time.Sleep(500 * time.Millisecond)
		storm = append(storm, over.Sub(t0).Seconds())
		drain = append(drain, ms(over.Sub(lastPrinted)))
		cpu = append(cpu, float64(cpu1.ticks-cpu0.ticks)/100)
		growth = append(growth, mib(rssKiB(s.pid())-rss0))
		maxZombies = append(maxZombies, float64(zombies))
		left = append(left, float64(z))
		s.stop()
	}
	b.ReportMetric(median(storm), "storm-s")
	b.ReportMetric(stormInstances*stormOrphans/median(storm), "orphans/s")
	b.ReportMetric(median(drain), "drain-ms")
	b.ReportMetric(median(growth), "rss-growth-MiB")
	b.ReportMetric(median(cpu), "supd-cpu-s")
	b.ReportMetric(quantile(maxZombies, 1), "max-zombies")
	b.ReportMetric(quantile(left, 1), "zombies-left")
}
