#!/usr/bin/env bash
# Command 2: the whole test suite. Installs what the tests need when it is missing (Debian's
# clickhouse-server, zookeeper, chromium, curl, gzip, node/npm, php-cli and php-curl; the npm packages of tests/clients; chdb-core
# and the pinned PyPI packages of tests/clients/requirements.txt: jsonschema, schemathesis, hypothesis-jsonschema, a Plausible client; wrk), then runs the checks, every test, the SQL check on a current ClickHouse, and
# the load benchmark in a short mode. The tests start and stop their own private ClickHouse; nothing needs
# to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v gzip >/dev/null || need_apt+=(gzip)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
[ -x /usr/sbin/clickhouse-server ] || need_apt+=(clickhouse-server)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -f /usr/share/java/zookeeper.jar ] || need_apt+=(zookeeper)
# Sites' time zones (visits split at their midnight) are read from the system's zone files.
[ -f /usr/share/zoneinfo/Europe/Paris ] || need_apt+=(tzdata)
# Matomo's official PHP tracker (tests/clients/php) runs with php-cli and its curl module.
command -v php >/dev/null || need_apt+=(php-cli)
{ command -v php >/dev/null && php -m 2>/dev/null | grep -qi '^curl$'; } || need_apt+=(php-curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing: ${need_apt[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# chdb-core embeds a current ClickHouse (26.x) for the SQL check below.
python3 -c "import chdb" 2>/dev/null || python3 -m pip install --quiet chdb-core
# jsonschema (Plausible's Stats API schema), a Plausible API client, and the schema-driven fuzzers
# schemathesis and hypothesis-jsonschema (tests/it/fuzzing.rs, bounded in examples and time), pinned.
python3 -m pip install --quiet -r tests/clients/requirements.txt
# Real third-party tracking clients for tests/it/clients.rs (versions pinned in the lock file).
(cd tests/clients && npm ci --silent --no-audit --no-fund)

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
cargo test --doc
# The fuzz properties again with more cases (src/fuzz.rs), bounded in time.
PROPTEST_CASES=2000 timeout 600 cargo test --lib --quiet fuzz
# The same migrations, retention, erasure and stats SQL on a current ClickHouse.
python3 scripts/chdb_check.py "${CARGO_TARGET_DIR:-target}/debug/mesure"
# The load benchmark end to end in a short mode (3 s per server): fails unless every 2xx answer
# became a row in ClickHouse. MESURE_SKIP_LOAD=1 skips it (it needs a release build).
if [ -z "${MESURE_SKIP_LOAD:-}" ]; then
  benches/load.sh 3 32
fi
