# Shared by the benchmark scripts (sourced, run from the repository's root): a work directory
# removed on exit together with every process listed in `pids` and the private ClickHouse, free
# loopback ports, the release build and the city database, the collector's configuration, and
# the collector's own count of 2xx tracking answers.

# bench_setup NAME: the work directory and the clean-up on exit.
bench_setup() {
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
  work=$(mktemp -d "/tmp/mesure-$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/clickhouse.sh stop "$work/clickhouse" || true
  rm -rf "$work"
}

# need TOOL DEBIAN_PACKAGE: stop with a clear message when a tool is missing.
need() {
  command -v "$1" >/dev/null || { echo "$1 is needed: apt-get install $2" >&2; exit 1; }
}

# build_release: the release binaries (in $bin) and the demo city database.
build_release() {
  cargo build --release --bins --quiet
  geo/fetch-city-db.sh
  bin=$CARGO_TARGET_DIR/release
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# write_collector_config MESURE_PORT CLICKHOUSE_HTTP_PORT DATABASE [SPOOL_KEYS]: one site,
# example.org, the real city database, the spool under the work directory.
write_collector_config() {
  cat >"$work/mesure.toml" <<TOML
listen = "127.0.0.1:$1"
trusted_proxies = ["127.0.0.1/32"]
[clickhouse]
url = "http://127.0.0.1:$2"
database = "$3"
[geo]
database = "$PWD/geo/GeoLite2-City.mmdb"
[spool]
dir = "$work/spool"
${4:-}
[[sites]]
id = 1
domains = ["example.org"]
TOML
}

# count_2xx: the collector's own count of 2xx answers on /matomo.php (it sees the answers to
# requests still in flight when a load generator stops).
count_2xx() {
  curl -fsS "http://127.0.0.1:$mesure_port/metrics" |
    awk '/^mesure_http_requests_total\{endpoint="matomo",status="2/ {n += $2} END {print n + 0}'
}
