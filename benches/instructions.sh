#!/usr/bin/env bash
# Instructions per tracking request, counted by callgrind (repeatable where hardware counters
# are not available, as in most VMs): mesure runs under valgrind, wrk sends pixel hits for a few
# seconds with collection on, and the script divides the instructions mesure executed (every
# thread: request handling, the spool and the writer's INSERTs) by the 2xx answers it gave.
#
#   benches/instructions.sh [SECONDS]        (default: 5 s of collected load)
#
# Needs valgrind (Debian) and wrk. Loopback only; everything it starts is stopped by PID.
# callgrind runs SHA-256 without SHA-NI, which adds ~13k instructions per request to what a
# real CPU executes: compare figures from this script with each other, not with perf.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-5}
. benches/common.sh
bench_setup instructions
need wrk wrk
need valgrind valgrind
build_release

ch_http=$(free_port); ch_tcp=$(free_port); mesure_port=$(free_port)
scripts/clickhouse.sh start "$work/clickhouse" "$ch_http" "$ch_tcp"
write_collector_config "$mesure_port" "$ch_http" instructions

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "$bin/mesure" serve --config "$work/mesure.toml" 2>"$work/mesure.log" &
mesure_pid=$!; pids+=("$mesure_pid")
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$mesure_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
run_wrk() { wrk -t1 -c8 -d"$1s" -s benches/pixel.lua "http://127.0.0.1:$mesure_port" >/dev/null; }
# Warm-up (caches, visit table, ClickHouse connection) outside the count.
callgrind_control -i on "$mesure_pid" >/dev/null
run_wrk 3
sleep 2
callgrind_control -z "$mesure_pid" >/dev/null
before=$(count_2xx)
run_wrk "$duration"
sleep 2   # the writer delivers what the run spooled
after=$(count_2xx)
callgrind_control -d "$mesure_pid" >/dev/null
sleep 1
kill -TERM "$mesure_pid"; wait "$mesure_pid" || true
# The dump taken right after the run holds the instructions since the counters were zeroed
# (the other file, written at exit, holds the shutdown's): the largest total is the run's.
total=$(cat "$work"/callgrind.out* | awk '/^totals:/ && $2 > n {n = $2} END {print n + 0}')
# The /metrics scrapes are counted too: two, negligible against thousands of hits.
answered=$((after - before))
echo "answered in the counted window: $answered requests"
python3 -c "print(f'instructions per answered request: {$total / max($answered, 1):.0f}')"
