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
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
work=$(mktemp -d /tmp/mesure-instr.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/clickhouse.sh stop "$work/clickhouse" || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in wrk valgrind callgrind_control; do
  command -v "$tool" >/dev/null || { echo "$tool is needed: apt-get install wrk valgrind" >&2; exit 1; }
done
cargo build --release --bins --quiet
geo/fetch-city-db.sh
bin=$CARGO_TARGET_DIR/release

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ch_http=$(free_port); ch_tcp=$(free_port); mesure_port=$(free_port)
scripts/clickhouse.sh start "$work/clickhouse" "$ch_http" "$ch_tcp"
cat >"$work/mesure.toml" <<TOML
listen = "127.0.0.1:$mesure_port"
trusted_proxies = ["127.0.0.1/32"]
[clickhouse]
url = "http://127.0.0.1:$ch_http"
database = "instructions"
[geo]
database = "$PWD/geo/GeoLite2-City.mmdb"
[spool]
dir = "$work/spool"
[[sites]]
id = 1
domains = ["example.org"]
TOML

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "$bin/mesure" serve --config "$work/mesure.toml" 2>"$work/mesure.log" &
mesure_pid=$!; pids+=("$mesure_pid")
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$mesure_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
count_2xx() {
  curl -fsS "http://127.0.0.1:$mesure_port/metrics" |
    awk '/^mesure_http_requests_total\{endpoint="matomo",status="2/ {n += $2} END {print n + 0}'
}
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
