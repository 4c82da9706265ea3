#!/bin/sh
# The benchmarks of sockets held by supd, in one run: the issue's crash-502
# measurement through real nginx (held socket against a plain port),
# held-socket readiness latency (probe), and the trampoline's cost on a
# crash → respawn. nginx must be installed (`make deps`).
#
# Usage: supervisor/bench/sockets.sh [--count N]
# Environment: SUP_BENCH_CRASH_FOR (how long the app is crashed every 2s,
# default 20s).
set -eu
count=1
[ "${1:-}" = "--count" ] && count=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
echo "held-socket readiness (probe): app accepting on fd 3 -> ready" >&2
go test -run '^$' -bench 'HeldAcceptToReady' -benchtime 1x -count "$count" ./probe/ | grep '^Benchmark'
exec supervisor/bench/run.sh --count "$count" --bench 'Crash502|RestartTrampoline'
