#!/bin/sh
# End-to-end benchmarks of supd against its performance targets: builds
# supd, supctl and testapp as they ship (`make build`, the Dockerfile:
# static, CGO_ENABLED=0, -trimpath, -ldflags=-s -w), runs the benchmarks of
# this package on them, and prints a summary table (target, goal, measured,
# pass).
#
# Usage: supervisor/bench/run.sh [--dynamic] [--count N] [--bench REGEXP] [--keep FILE]
#   --dynamic    a plain `go build` instead (cgo, libc linked dynamically)
#   --count N    run every benchmark N times; the table shows the medians
#   --bench RE   only the benchmarks matching RE (default: all)
#   --keep FILE  also write the raw `go test -bench` output to FILE
#
# Environment: SUP_BENCH_IDLE (idle CPU window, default 10s),
# SUP_BENCH_FLOOD (flood bytes, default 200000000), SUP_BENCH_ORPHANS=testapp
# (orphans are Go programs instead of /bin/true). The whole run takes about
# a minute and a half with --count 1. The machine may be shared: run with
# --count 3 for figures to quote.
set -eu

static=1 count=1 bench=. keep=
while [ $# -gt 0 ]; do
	case $1 in
	--dynamic) static=0 ;;
	--count) count=$2; shift ;;
	--bench) bench=$2; shift ;;
	--keep) keep=$2; shift ;;
	-h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=$(mktemp -d "${TMPDIR:-/tmp}/sup-bench-bin-XXXXXX")
raw=$(mktemp "${TMPDIR:-/tmp}/sup-bench-out-XXXXXX")
trap 'rm -rf "$bin" "$raw"' EXIT INT TERM

echo "building supd, supctl, testapp (static=$static) into $bin" >&2
if [ "$static" = 1 ]; then
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin/" ./cmd/supd ./cmd/supctl ./supervisor/internal/testapp
else
	go build -o "$bin/" ./cmd/supd ./cmd/supctl ./supervisor/internal/testapp
fi
ls -l "$bin" | awk 'NR > 1 { printf "  %-8s %6.1f MB\n", $9, $5 / 1e6 }' >&2

{
	rc=0
	SUP_BENCH_BIN=$bin go test -run '^$' -bench "$bench" -benchtime 1x -count "$count" -timeout 30m ./supervisor/bench/ || rc=$?
	echo "$rc" >"$bin/rc"
} | tee "$raw"
[ -z "$keep" ] || cp "$raw" "$keep"

# The table: one row per target, from the medians of the metrics.
awk '
function med(key,   n, i, j, t, v) {
	n = cnt[key]
	if (n == 0) return ""
	for (i = 1; i <= n; i++) v[i] = val[key, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
function row(what, goal, bench, unit, cmp, limit, extra,   m, ok) {
	m = med(bench SUBSEP unit)
	if (m == "") { printf "%-44s %-10s %-22s %s\n", what, goal, "(not run)", ""; return }
	ok = (cmp == "<" && m < limit) || (cmp == "<=" && m <= limit) || (cmp == "=" && m == limit)
	printf "%-44s %-10s %-22s %s\n", what, goal, sprintf("%g %s", m, unit) extra, ok ? "yes" : "NO"
}
function more(bench, unit,   m) { m = med(bench SUBSEP unit); return m == "" ? "" : sprintf(" %s %g", unit, m) }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i + 1 <= NF; i += 2) { key = name SUBSEP $(i+1); val[key, ++cnt[key]] = $i }
}
END {
	print ""
	printf "%-44s %-10s %-22s %s\n", "target", "goal", "measured (median)", "met"
	printf "%-44s %-10s %-22s %s\n", "------", "----", "-----------------", "---"
	row("supd RSS, 50 sleep processes", "<= 10 MiB", "BenchmarkIdleRSS/procs=50", "rss-MiB", "<=", 10, "")
	row("supd RSS, 100 sleep processes", "<= 15 MiB", "BenchmarkIdleRSS/procs=100", "rss-MiB", "<=", 15, "")
	row("supd CPU, 100 processes, nothing changes", "< 0.1 %", "BenchmarkIdleCPU", "cpu-%", "<", 0.1, "")
	row("crash to new pid, first restart", "< 5 ms", "BenchmarkRestart", "median-ms", "<", 5, "")
	row("supctl status --json, 500 processes", "< 50 ms", "BenchmarkStatus", "median-ms", "<", 50, "")
	row("200 MB log flood vs pipe to cat", "<= 1.3x", "BenchmarkLogFlood", "ratio", "<=", 1.3, "")
	row("exec of supd to first spawn, 20 processes", "< 10 ms", "BenchmarkFirstSpawn", "median-ms", "<", 10, "")
	row("20 x 300 ms binds, all ready", "<= 400 ms", "BenchmarkReadySlowBind", "median-ms", "<=", 400, "")
	row("orphan storm 10,000: zombies left", "0", "BenchmarkOrphanStorm", "zombies-left", "=", 0, "")
	row("orphan storm 10,000: supd RSS growth", "< 2 MiB", "BenchmarkOrphanStorm", "rss-growth-MiB", "<", 2, "")
	row("kill -9 via nginx, held socket: refused", "0", "BenchmarkCrash502", "held-refused", "=", 0, "")
	row("kill -9 via nginx, held socket: 502s/crash", "<= 8", "BenchmarkCrash502", "held-502-per-crash", "<=", 8, "")
	print ""
	print "details:"
	print "  RSS 50:     " more("BenchmarkIdleRSS/procs=50", "anon-MiB") more("BenchmarkIdleRSS/procs=50", "threads") more("BenchmarkIdleRSS/procs=50", "rss-status-MiB")
	print "  RSS 100:    " more("BenchmarkIdleRSS/procs=100", "anon-MiB") more("BenchmarkIdleRSS/procs=100", "threads") more("BenchmarkIdleRSS/procs=100", "rss-status-MiB")
	print "  idle CPU:   " more("BenchmarkIdleCPU", "tick-cpu-%") more("BenchmarkIdleCPU", "wakeups/s")
	print "  restart:    " more("BenchmarkRestart", "p99-ms") more("BenchmarkRestart", "reap-ms")
	print "  status:     " more("BenchmarkStatus", "p99-ms") more("BenchmarkStatus", "one-ms")
	print "  flood:      " more("BenchmarkLogFlood", "base-s") more("BenchmarkLogFlood", "supd-s") more("BenchmarkLogFlood", "ratio-median") more("BenchmarkLogFlood", "rss-max-MiB") more("BenchmarkLogFlood", "supd-cpu-s")
	print "  first spawn:" more("BenchmarkFirstSpawn", "p99-ms") more("BenchmarkFirstSpawn", "all-ms") more("BenchmarkFirstSpawn", "started-ms")
	print "  ready:      " more("BenchmarkReadySlowBind", "max-ms") more("BenchmarkReadySlowBind", "detect-ms")
	print "  crash 502:  " more("BenchmarkCrash502", "held-502s") more("BenchmarkCrash502", "held-requests") more("BenchmarkCrash502", "held-502-time-s") more("BenchmarkCrash502", "port-502s") more("BenchmarkCrash502", "port-refused") more("BenchmarkCrash502", "port-502-per-crash") more("BenchmarkCrash502", "port-requests") more("BenchmarkCrash502", "port-502-time-s")
	print "  trampoline: " more("BenchmarkRestartTrampoline", "held-ms") more("BenchmarkRestartTrampoline", "plain-ms") more("BenchmarkRestartTrampoline", "trampoline-ms")
	print "  orphans:    " more("BenchmarkOrphanStorm", "storm-s") more("BenchmarkOrphanStorm", "orphans/s") more("BenchmarkOrphanStorm", "drain-ms") more("BenchmarkOrphanStorm", "anon-growth-MiB") more("BenchmarkOrphanStorm", "max-zombies") more("BenchmarkOrphanStorm", "supd-cpu-s")
}' "$raw"
exit "$(cat "$bin/rc")"
