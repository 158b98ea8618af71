#!/usr/bin/env bash
# Load benchmark: wrk against the Matomo pixel endpoint on loopback, and against a bare hyper
# server answering 204 (the reference) with the same connections and duration.
#
#   benches/load.sh [DURATION_SECONDS] [CONNECTIONS]        (defaults: 10 s, 64 connections)
#
# Prints requests/s for each server, the ratio, p50/p99 at full and half load, peak RSS and CPU
# use, and checks that the number of rows in ClickHouse equals the number of 2xx answers mesure
# gave. Exits non-zero if they differ. Knobs for experiments: PERF=1 (record a profile),
# CLICKHOUSE_PIN (how ClickHouse is started; empty = unpinned), FSYNC_INTERVAL=10s.
# Everything it starts (ClickHouse, mesure, the reference) is stopped by PID when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10}
connections=${2:-64}
threads=1
. benches/common.sh
bench_setup load
need wrk wrk
build_release

ch_http=$(free_port); ch_tcp=$(free_port); mesure_port=$(free_port); ref_port=$(free_port)
# Two cores: the servers get core 0; wrk and ClickHouse share core 1, ClickHouse at the lowest
# priority. Unpinned, ClickHouse's INSERT work took slices of the collector's core; pinned at
# the same priority, it stalled wrk for milliseconds at a time, leaving the collector idle
# (seen with `perf sched`), and showed as latency that was not the collector's.
ch_pin=""
if [ "$(nproc)" -ge 2 ]; then ch_pin="taskset -c 1 nice -n 19"; fi
${CLICKHOUSE_PIN-$ch_pin} scripts/clickhouse.sh start "$work/clickhouse" "$ch_http" "$ch_tcp"

write_collector_config "$mesure_port" "$ch_http" load "fsync_interval = \"${FSYNC_INTERVAL:-50ms}\""

# Pin the servers and the load generator to different cores where there are two. The servers
# start pinned, so each runtime sizes itself for the one core it has.
pin_load=""; pin_server=""
if [ "$(nproc)" -ge 2 ]; then pin_load="taskset -c 1"; pin_server="taskset -c 0"; fi
RUST_LOG=info $pin_server "$bin/mesure" serve --config "$work/mesure.toml" 2>"$work/mesure.log" &
mesure_pid=$!; pids+=("$mesure_pid")
$pin_server "$bin/bare-hyper" "127.0.0.1:$ref_port" &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$mesure_port/healthz" >/dev/null 2>&1 && curl -fsS -o /dev/null "http://127.0.0.1:$ref_port/" && break
  sleep 0.1
done


run_wrk() { $pin_load wrk -t"$threads" -c"${2:-$connections}" -d"${duration}s" --latency -s benches/pixel.lua "$1"; }
count_rows() { curl -fsS "http://127.0.0.1:$ch_http/" --data-binary "SELECT count() FROM load.events"; }
percentile() { echo "$1" | awk -v p="$2" '$1 == p {print $2}'; }
# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
ch_pid=$(cat "$work/clickhouse/clickhouse.pid")
echo "== reference: bare hyper (204) =="
ref_out=$(run_wrk "http://127.0.0.1:$ref_port")
echo "$ref_out" | grep -E "Requests/sec|Latency|99%"
echo "== mesure: /matomo.php =="
if [ -n "${PERF:-}" ]; then
  # PERF=1: sample mesure's stacks during its run (perf from Debian's linux-perf).
  perf record -F 499 -g -o "${PERF_OUT:-/tmp/mesure.perf.data}" -p "$mesure_pid" -- sleep "$duration" >/dev/null 2>&1 &
  perf_pid=$!
fi
cpu_before=$(cpu_seconds "$mesure_pid"); ch_before=$(cpu_seconds "$ch_pid")
mesure_out=$(run_wrk "http://127.0.0.1:$mesure_port")
cpu_after=$(cpu_seconds "$mesure_pid"); ch_after=$(cpu_seconds "$ch_pid")
# How far ClickHouse kept up: rows stored when the run ended, against answers given by then.
rows_at_end=$(count_rows); answers_at_end=$(count_2xx)
[ -n "${PERF:-}" ] && wait "$perf_pid"
# Let ClickHouse take what waited in the spool, so the half-load run measures a steady state
# rather than ClickHouse catching up beside the load generator.
drain_start=$(date +%s.%N)
for _ in $(seq 1 240); do
  [ "$(count_rows)" = "$(count_2xx)" ] && break
  sleep 0.5
done
drain_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $drain_start:.1f}')")
mesure_peak=$(echo "$mesure_out" | awk '/Requests\/sec/ {print $2}')
# Half of mesure's peak. wrk paces in whole milliseconds, so each connection waits 1 ms after
# an answer, and there are as many connections as make half the peak (one request cycle takes
# about 1.9 ms at that load, wrk's timer included, measured); the rate achieved is printed with
# its share of the peak.
half_connections=$(python3 -c "print(max(1, round($mesure_peak / 2 * 1.9 / 1000)))")
echo "== mesure at half load ($half_connections connections, each waiting 1 ms between requests) =="
half_out=$(LOAD_DELAY_MS=1 run_wrk "http://127.0.0.1:$mesure_port" "$half_connections")
echo "$half_out" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
echo "$mesure_out" | grep -E "Requests/sec|Latency|99%|Non-2xx"

rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$mesure_pid/status")
# Read the answer count once the last request in flight is answered (two reads 300 ms apart agree).
served_2xx=$(count_2xx)
for _ in $(seq 1 50); do
  sleep 0.3
  again=$(count_2xx)
  [ "$again" = "$served_2xx" ] && break
  served_2xx=$again
done
# Stop mesure with SIGTERM: it flushes every accepted event before exiting.
kill -TERM "$mesure_pid"; wait "$mesure_pid" || { echo "mesure exited non-zero" >&2; tail "$work/mesure.log" >&2; exit 1; }

ref_rps=$(echo "$ref_out" | awk '/Requests\/sec/ {print $2}')
half_rps=$(echo "$half_out" | awk '/Requests\/sec/ {print $2}')
mesure_rps=$(echo "$mesure_out" | awk '/Requests\/sec/ {print $2}')
total=$(( $(echo "$mesure_out" | awk '/requests in/ {print $1}') + $(echo "$half_out" | awk '/requests in/ {print $1}') ))
non2xx=$(( $(echo "$mesure_out" | awk '/Non-2xx/ {print $5}' | grep . || echo 0) + $(echo "$half_out" | awk '/Non-2xx/ {print $5}' | grep . || echo 0) ))
wrk_2xx=$((total - non2xx))
rows=$(count_rows)
ratio=$(python3 -c "print(f'{$mesure_rps / $ref_rps * 100:.1f}')")
echo
echo "reference requests/s: $ref_rps"
echo "mesure requests/s:    $mesure_rps (${ratio}% of the reference)"
echo "latency at full load: p50 $(percentile "$mesure_out" 50%), p99 $(percentile "$mesure_out" 99%) (reference p50 $(percentile "$ref_out" 50%), p99 $(percentile "$ref_out" 99%))"
half_share=$(python3 -c "print(f'{$half_rps / $mesure_rps * 100:.0f}')")
echo "latency at half load: p50 $(percentile "$half_out" 50%), p99 $(percentile "$half_out" 99%) at $half_rps requests/s (${half_share}% of the peak)"
echo "mesure peak RSS:      $((rss_kb / 1024)) MiB"
python3 -c "d=$duration; print(f'CPU during the full-load run: mesure {($cpu_after - $cpu_before)/d:.2f} cores, ClickHouse {($ch_after - $ch_before)/d:.2f} cores (of 2, wrk uses the other)')"
echo "rows in ClickHouse when the full-load run ended: $rows_at_end of $answers_at_end answered; the rest waited in the spool and was stored ${drain_seconds} s later"
echo "2xx answers: $served_2xx (wrk saw $wrk_2xx)   rows in ClickHouse: $rows"
if [ "$served_2xx" != "$rows" ]; then
  echo "FAIL: rows in ClickHouse differ from 2xx answers" >&2
  exit 1
fi
echo "OK: every 2xx answer is a row"
