// Package bench measures supd end to end against the performance targets
// of the product: supd's memory with 50 and 100 supervised processes, its
// CPU while nothing changes, crash-to-respawn latency, `supctl status
// --json` with 500 processes, a 200 MB log flood against a plain pipe,
// time to the first spawn, 20 slow-binding processes becoming ready, and
// reaping an orphan storm.
//
// Everything is a benchmark (there are no tests, so `go test ./...` costs
// nothing here). Each builds non-race supd, supctl and testapp once (or
// uses $SUP_BENCH_BIN when it holds them), runs real processes, reports its
// figures with b.ReportMetric, and stops everything it started:
//
//	go test -run '^$' -bench . -benchtime 1x ./supervisor/bench/
//	supervisor/bench/run.sh            # the same, with a summary table
//
// The machine may be shared and noisy: ratios (the log flood) are taken
// against a baseline measured in the same run, alternating with it, and
// latencies are given as medians with p99 next to them.
package bench
