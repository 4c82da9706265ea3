#!/bin/sh
# supd's own memory with N supervised `sleep`s: RSS, PSS and anonymous
# (KiB, from /proc/PID/smaps_rollup), once idle after `supctl wait`, and
# again after five `supctl status --json`. Builds supd and supctl as they
# ship (static, stripped: `make build`).
#
# Usage: supervisor/bench/memory.sh [N...]     (default: 50 100 1000)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d "${TMPDIR:-/tmp}/sup-mem-bin-XXXXXX")
trap 'rm -rf "$bin"' EXIT INT TERM
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin/" ./cmd/supd ./cmd/supctl)

rollup() {
	awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } /^Anonymous:/ { a = $2 }
		END { printf "%.1f / %.1f / %.1f MiB", r / 1024, p / 1024, a / 1024 }' "/proc/$1/smaps_rollup"
}

[ $# -gt 0 ] || set -- 50 100 1000
echo "processes  idle RSS / PSS / anonymous        after 5 status"
for n in "$@"; do
	dir=$(mktemp -d "${TMPDIR:-/tmp}/sup-mem-XXXXXX")
	cat >"$dir/sup.hcl" <<HCL
supervisor {
  socket           = "$dir/supd.sock"
  shutdown_timeout = "60s"
}
process "s" {
  command   = ["sleep", "100000"]
  instances = $n
}
HCL
	"$bin/supd" --log-level warn "$dir/sup.hcl" 2>/dev/null &
	pid=$!
	"$bin/supctl" --socket "$dir/supd.sock" wait --timeout 300s >/dev/null
	sleep 3 # settle: the heap released after start-up
	idle=$(rollup $pid)
	for _ in 1 2 3 4 5; do "$bin/supctl" --socket "$dir/supd.sock" status --json >/dev/null; done
	after=$(rollup $pid)
	printf '%-10s %-32s %s\n' "$n" "$idle" "$after"
	kill -TERM $pid
	wait $pid || true
	rm -rf "$dir"
done
