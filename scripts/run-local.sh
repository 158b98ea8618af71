#!/usr/bin/env bash
# Command 1: set up and run mesure with a local ClickHouse on this machine.
#   - installs Debian's clickhouse-server, curl and npm if they are missing,
#   - fetches a real city database (geo/fetch-city-db.sh),
#   - starts a private ClickHouse (data in var/clickhouse, HTTP port 18123),
#   - builds mesure (release) and runs `mesure serve` with mesure.example.toml (demo site 1),
#   - prints the snippet to paste into a page and a one-time dashboard sign-in link.
# Ctrl-C stops mesure (it flushes every accepted hit) and then the private ClickHouse.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v npm >/dev/null || need_apt+=(npm)
[ -x /usr/sbin/clickhouse-server ] || need_apt+=(clickhouse-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

geo/fetch-city-db.sh   # a real (2019) city database at geo/GeoLite2-City.mmdb; see geo/README.md
config=${MESURE_CONFIG:-mesure.example.toml}
scripts/clickhouse.sh start var/clickhouse 18123 19000
trap 'scripts/clickhouse.sh stop var/clickhouse' EXIT

cargo build --release --bin mesure
bin=${CARGO_TARGET_DIR:-target}/release/mesure
"$bin" check-config --config "$config"
# A token for the demo site, and a one-time link that signs the dashboard in with it.
signin=$("$bin" token create --site 1 --name run-local --sign-in-link --config "$config" | grep '/signin?code=')

cat <<'HTML'

Paste this into a page of the demo site (served from localhost):

<script>
  (function () {
    var u = "http://127.0.0.1:8080/matomo.php?idsite=1&rec=1"
      + "&url=" + encodeURIComponent(location.href)
      + "&action_name=" + encodeURIComponent(document.title)
      + "&urlref=" + encodeURIComponent(document.referrer)
      + "&rand=" + Math.random();
    new Image().src = u;
  })();
</script>
<noscript><img src="http://127.0.0.1:8080/matomo.php?idsite=1&rec=1" alt="" style="border:0"></noscript>

The visitor opt-out page: http://127.0.0.1:8080/optout
HTML
cat <<SIGNIN
The dashboard, signed in with one click (the link works once, for an hour):
  $signin
(later: target/release/mesure token create --site 1 --sign-in-link --config $config)
SIGNIN
cat <<'HTML'

Rows land in ClickHouse:  curl 'http://127.0.0.1:18123/' --data-binary 'SELECT * FROM mesure.events FORMAT Vertical'
HTML

"$bin" serve --config "$config"
