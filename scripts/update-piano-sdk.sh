#!/usr/bin/env bash
# Updates the vendored Piano Analytics SDK (src/web/assets/piano/): piano-analytics-js's browser
# build (dist/browser/piano-analytics.js, MIT, licence in LICENSE.txt beside it), pinned in
# VERSION, served by mesure at /piano-analytics.js so that a Piano site changes only hosts.
#
#   scripts/update-piano-sdk.sh VERSION        e.g. 6.17.0 (a release of the npm package)
#
# Takes the package from the npm registry with `npm pack`, checks that the script still has what
# mesure's collection endpoint reads (its `/event` path, `collectDomain`, the privacy modes),
# writes the files and the version, and prints the checksum to note in the commit. Also pin the
# same version in tests/clients/package.json (the browser test loads both). Rebuild mesure
# afterwards: the script is compiled into the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/update-piano-sdk.sh VERSION}
dir=src/web/assets/piano
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "piano-analytics-js@$version" >/dev/null && tar xzf "piano-analytics-js-$version.tgz")
sdk="$tmp/package/dist/browser/piano-analytics.js"
for needed in 'path:"event"' collectDomain visitor_privacy_mode exempt sendBeacon; do
  grep -q "$needed" "$sdk" || { echo "piano-analytics.js $version lacks $needed: check src/ingest/piano.rs" >&2; exit 1; }
done
cp "$sdk" "$dir/piano-analytics.js"
cp "$tmp/package/LICENSE.txt" "$dir/LICENSE.txt"
echo "$version" >"$dir/VERSION"
sha256sum "$dir/piano-analytics.js"
