#!/usr/bin/env bash
# Updates the vendored Matomo tracker (src/web/assets/matomo/): Matomo's own `matomo.js` (the
# minified js/piwik.js, BSD-3-Clause, licence in LICENSE.txt beside it), pinned in VERSION.
#
#   scripts/update-matomo-js.sh VERSION        e.g. 5.1.2 (a tag of matomo-org/matomo)
#
# Takes the two files of that tag from the Matomo repository on GitHub (or, with
# MATOMO_CHECKOUT=DIR, from a local git checkout of it), checks that the script still has the
# parts mesure relies on (the `_paq` queue and the commands the prelude pushes), writes them and
# the version, and prints the checksum to note in the commit. Rebuild mesure afterwards: the
# script is compiled into the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/update-matomo-js.sh VERSION}
dir=src/web/assets/matomo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${MATOMO_CHECKOUT:-}" ]; then
  git -C "$MATOMO_CHECKOUT" show "$version:matomo.js" >"$tmp/matomo.js"
  git -C "$MATOMO_CHECKOUT" show "$version:js/LICENSE.txt" >"$tmp/LICENSE.txt"
else
  base="https://raw.githubusercontent.com/matomo-org/matomo/$version"
  curl -fsSL "$base/matomo.js" -o "$tmp/matomo.js"
  curl -fsSL "$base/js/LICENSE.txt" -o "$tmp/LICENSE.txt"
fi
for needed in _paq disableCookies setVisitorCookieTimeout 'BSD-3-Clause'; do
  grep -q "$needed" "$tmp/matomo.js" || { echo "matomo.js $version lacks $needed: check the prelude in src/web/matomo_js.rs" >&2; exit 1; }
done
cp "$tmp/matomo.js" "$tmp/LICENSE.txt" "$dir/"
echo "$version" >"$dir/VERSION"
echo "matomo.js $version: sha256 $(sha256sum "$dir/matomo.js" | cut -d' ' -f1)"
