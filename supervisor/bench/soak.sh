#!/bin/sh
# Soak test of supd: many processes, some crash-looping, a client
# hammering the control socket and the HTTP endpoint, for a long time.
# Samples supd's RSS, open fds, goroutines and threads, and checks at the
# end that supd stops cleanly and leaves no process behind.
#
# Usage: supervisor/bench/soak.sh [--duration D] [--processes N] [--crashing N]
#                                 [--interval D] [--port P] [--out FILE]
#   --duration D    how long to run (sleep(1) syntax: 600, 10m; default 10m)
#   --processes N   processes in all (default 50), each printing a line a second
#   --crashing N    of which crash-loop: exit 1 at once, backoff 20ms..200ms (default 10)
#   --interval D    sampling interval (default 10s)
#   --port P        the HTTP endpoint's port (default: 20000 + pid % 30000)
#   --out FILE      also write the samples (TSV) to FILE
#
# Prints one TSV row per sample (elapsed s, RSS KiB, Go heap in use KiB,
# fds, goroutines, threads, restarts so far, client requests, client
# failures), then a
# summary: first/last/max of each figure, restarts per second, requests
# per second, failures, and the processes left after supd's exit (must
# be 0). Exit 1 when a client request failed or something was left.
set -eu

duration=10m processes=50 crashing=10 interval=10s port=$((20000 + $$ % 30000)) out=
while [ $# -gt 0 ]; do
	case $1 in
	--duration) duration=$2; shift ;;
	--processes) processes=$2; shift ;;
	--crashing) crashing=$2; shift ;;
	--interval) interval=$2; shift ;;
	--port) port=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ "$crashing" -gt "$processes" ]; then
	echo "soak.sh: --crashing $crashing is more than --processes $processes" >&2
	exit 2
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sup-soak-XXXXXX")
supd_pid= pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -n "$supd_pid" ] && kill "$supd_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "building supd and supctl into $work" >&2
(cd "$root" && go build -o "$work/supd" ./cmd/supd && go build -o "$work/supctl" ./cmd/supctl)

# A marker in every command line, to find what supd left behind.
marker="soak$$"
{
	printf 'supervisor {\n  socket = "%s/supd.sock"\n  http = "127.0.0.1:%s"\n  shutdown_timeout = "30s"\n}\n' "$work" "$port"
	printf 'process "steady" {\n  command = ["sh", "-c", "while :; do echo %s tick; sleep 1; done"]\n  instances = %d\n}\n' \
		"$marker" $((processes - crashing))
	if [ "$crashing" -gt 0 ]; then
		printf 'process "crash" {\n  command = ["sh", "-c", "echo %s crash; exit 1"]\n  instances = %d\n' "$marker" "$crashing"
		printf '  restart {\n    backoff = "20ms"\n    max_backoff = "200ms"\n  }\n}\n'
	fi
} >"$work/sup.hcl"

"$work/supd" --log-format json "$work/sup.hcl" >"$work/supd.log" 2>&1 &
supd_pid=$!
ctl() { "$work/supctl" --socket "$work/supd.sock" "$@"; }
i=0
until ctl status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$supd_pid" 2>/dev/null; then
		echo "soak.sh: supd did not start:" >&2
		cat "$work/supd.log" >&2
		exit 1
	fi
	sleep 0.1
done

# The hammering clients: each sends, in a loop, 20 GET /status over the
# control socket (one curl, keep-alive), a supctl status and why, and a
# scrape of /metrics, counting requests and failures; plus an events
# follower for the whole run.
status_urls=$(i=0; while [ $i -lt 20 ]; do printf ' http://supd/status'; i=$((i + 1)); done)
hammer() {
	n=0 f=0
	while [ ! -e "$work/stop" ]; do
		# shellcheck disable=SC2086
		curl -fsS --unix-socket "$work/supd.sock" $status_urls >/dev/null 2>&1 || f=$((f + 1))
		ctl status --json >/dev/null 2>&1 || f=$((f + 1))
		rc=0
		ctl why crash >/dev/null 2>&1 || rc=$?
		[ $rc -le 1 ] || f=$((f + 1)) # why exits 1 when not ready
		curl -fsS "http://127.0.0.1:$port/metrics" >/dev/null 2>&1 || f=$((f + 1))
		n=$((n + 23))
		echo "$n $f" >"$work/hammer.$1.tmp" && mv "$work/hammer.$1.tmp" "$work/hammer.$1"
	done
}
hammers=
for h in 1 2 3 4; do
	hammer $h &
	hammers="$hammers $!"
done
ctl events --json >"$work/events.ndjson" 2>&1 &
follower=$!
pids="$hammers $follower"

seconds() { # sleep(1)-style duration to seconds
	case $1 in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
total=$(seconds "$duration") step=$(seconds "$interval")
start=$(date +%s)
header="elapsed_s\trss_kib\theap_kib\tfds\tgoroutines\tthreads\trestarts\trequests\tfailures"
printf "$header\n"
[ -n "$out" ] && printf "$header\n" >"$out"
sample() {
	now=$(date +%s)
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$supd_pid/status")
	threads=$(awk '/^Threads/ { print $2 }' "/proc/$supd_pid/status")
	fds=$(ls "/proc/$supd_pid/fd" | wc -l)
	curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics" 2>/dev/null || true
	gor=$(awk '/^go_goroutines / { print $2 }' "$work/metrics")
	heap=$(awk '/^go_memstats_heap_inuse_bytes / { printf "%d", $2 / 1024 }' "$work/metrics")
	restarts=$(ctl status --json 2>/dev/null | grep -o '"restarts": *[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
	req=0 fail=0
	for h in 1 2 3 4; do
		[ -e "$work/hammer.$h" ] && read -r a b <"$work/hammer.$h" && req=$((req + a)) && fail=$((fail + b))
	done
	row="$((now - start))\t$rss\t${heap:-?}\t$fds\t${gor:-?}\t$threads\t$restarts\t$req\t$fail"
	printf "$row\n"
	[ -n "$out" ] && printf "$row\n" >>"$out"
	echo "$((now - start)) $rss ${heap:-0} $fds ${gor:-0} $threads $restarts $req $fail" >>"$work/samples"
}
sample
while [ $(($(date +%s) - start)) -lt "$total" ]; do
	sleep "$step"
	kill -0 "$supd_pid" 2>/dev/null || { echo "soak.sh: supd died" >&2; tail -20 "$work/supd.log" >&2; exit 1; }
	sample
done

touch "$work/stop"
for p in $hammers; do wait "$p" || true; done
kill -TERM "$supd_pid"
code=0
wait "$supd_pid" || code=$?
wait "$follower" || true # the stream ends with supd
pids=
supd_pid=
# "[s]oak123" matches the marker but not grep's own command line.
left=$(grep -l "[${marker%"${marker#?}"}]${marker#?}" /proc/[0-9]*/cmdline 2>/dev/null | wc -l)
events=$(wc -l <"$work/events.ndjson")

awk -v code="$code" -v left="$left" -v events="$events" '
	NR == 1 { for (i = 2; i <= 6; i++) { first[i] = $i; max[i] = $i } }
	{ for (i = 2; i <= 6; i++) { if ($i > max[i]) max[i] = $i; last[i] = $i } t = $1; r = $7; q = $8; f = $9 }
	END {
		split("- rss_kib heap_kib fds goroutines threads", name, " ")
		printf "\nsummary over %d s (%d samples)\n", t, NR
		for (i = 2; i <= 6; i++) printf "  %-11s first %-8s last %-8s max %s\n", name[i], first[i], last[i], max[i]
		printf "  restarts    %d (%.1f/s)\n", r, (t > 0 ? r / t : 0)
		printf "  requests    %d (%.1f/s), failures %d\n", q, (t > 0 ? q / t : 0), f
		printf "  events      %d streamed to one follower\n", events
		printf "  supd exit   %d, processes left after it: %d\n", code, left
		exit (f > 0 || left > 0 || code != 0)
	}' "$work/samples"
