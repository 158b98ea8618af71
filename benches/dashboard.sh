#!/usr/bin/env bash
# Dashboard query benchmark: N generated events (default 10 million) in a private ClickHouse,
# then every dashboard query timed (median of 5). Everything it starts is stopped at the end.
#   benches/dashboard.sh [EVENTS] [DAYS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000000}
days=${2:-60}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
work=$(mktemp -d /tmp/mesure-dash.XXXXXX)
cleanup() { scripts/clickhouse.sh stop "$work/clickhouse" || true; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release --quiet --bin mesure --example generate --example dashboard_queries
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free_port); tcp=$(free_port)
scripts/clickhouse.sh start "$work/clickhouse" "$http" "$tcp"
cat >"$work/mesure.toml" <<TOML
[clickhouse]
url = "http://127.0.0.1:$http"
database = "bench"
[[sites]]
id = 1
domains = ["example.org"]
TOML
"$CARGO_TARGET_DIR/release/mesure" migrate --config "$work/mesure.toml" >/dev/null
"$CARGO_TARGET_DIR/release/examples/generate" --url "http://127.0.0.1:$http" --database bench --events "$events" --days "$days" --sites 3
curl -fsS "http://127.0.0.1:$http/" --data-binary "OPTIMIZE TABLE bench.events FINAL" >/dev/null || true
"$CARGO_TARGET_DIR/release/examples/dashboard_queries" --url "http://127.0.0.1:$http" --database bench --site 1 --range 30d
