#!/usr/bin/env bash
# Idle connections: how many the collector holds while tracking answers stay fast.
#
#   benches/idle.sh [IDLE_CONNECTIONS] [DURATION_SECONDS]        (defaults: 10000, 5 s)
#
# Starts ClickHouse and the collector (release build), measures tracking latency with wrk (16
# connections), then opens IDLE_CONNECTIONS connections that send nothing (as a slowloris or a
# crowd of idle keep-alive browsers would), measures again while they are held, and prints both
# with the collector's RSS and how many connections it held. The collector's limits are raised
# for the run (idle_timeout 120 s, max_connections above the count); its defaults close an idle
# connection after 20 s. Everything it starts is stopped by PID when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

idle=${1:-10000}
duration=${2:-5}
. benches/common.sh
bench_setup idle
need wrk wrk
build_release
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

ch_http=$(free_port); ch_tcp=$(free_port); mesure_port=$(free_port)
scripts/clickhouse.sh start "$work/clickhouse" "$ch_http" "$ch_tcp"
write_collector_config "$mesure_port" "$ch_http" idle
cat >>"$work/mesure.toml" <<TOML
[limits]
idle_timeout = "120s"
header_read_timeout = "120s"
max_connections = $((idle + 1000))
max_connections_per_client = $((idle + 1000))
TOML
RUST_LOG=warn "$bin/mesure" serve --config "$work/mesure.toml" 2>"$work/mesure.log" &
mesure_pid=$!; pids+=("$mesure_pid")
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$mesure_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

latency() {
  wrk -t1 -c16 -d"${duration}s" --latency -s benches/pixel.lua "http://127.0.0.1:$mesure_port" |
    awk '/Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print rps " req/s, p50 " p50 ", p99 " p99}'
}
open_connections() { curl -fsS "http://127.0.0.1:$mesure_port/metrics" | awk '/^mesure_connections_open / {print $2}'; }

rss() { echo "$(( $(awk '/VmRSS/ {print $2}' "/proc/$mesure_pid/status") / 1024 )) MiB"; }
echo "without idle connections: $(latency); RSS $(rss)"
# Hold the idle connections from a helper process until it is killed.
python3 - "$mesure_port" "$idle" <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(n):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    held.append(s)
print(f"holding {len(held)} idle connections", flush=True)
time.sleep(3600)
PY
holder=$!; pids+=("$holder")
for _ in $(seq 1 600); do
  [ "$(open_connections)" -ge "$idle" ] 2>/dev/null && break
  sleep 0.1
done
echo "collector holds $(open_connections) connections; RSS $(rss)"
echo "with $idle idle connections: $(latency)"
