#!/usr/bin/env bash
# Updates the vendored official Matomo PHP tracker that the tests drive (tests/clients/php/):
# `MatomoTracker.php` and the `PiwikTracker.php` it includes (BSD-3-Clause, licence in LICENSE
# beside them), pinned in VERSION.
#
#   scripts/update-matomo-php-tracker.sh VERSION        e.g. 4.0.1 (a tag of matomo-org/matomo-php-tracker)
#
# Takes the files of that tag from GitHub (or, with MATOMO_PHP_TRACKER_CHECKOUT=DIR, from a local
# git checkout), writes them and the version, and prints the checksum to note in the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/update-matomo-php-tracker.sh VERSION}
dir=tests/clients/php
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${MATOMO_PHP_TRACKER_CHECKOUT:-}" ]; then
  git -C "$MATOMO_PHP_TRACKER_CHECKOUT" show "$version:MatomoTracker.php" >"$tmp/MatomoTracker.php"
  git -C "$MATOMO_PHP_TRACKER_CHECKOUT" show "$version:PiwikTracker.php" >"$tmp/PiwikTracker.php"
  git -C "$MATOMO_PHP_TRACKER_CHECKOUT" show "$version:LICENSE" >"$tmp/LICENSE"
else
  base="https://raw.githubusercontent.com/matomo-org/matomo-php-tracker/$version"
  curl -fsSL "$base/MatomoTracker.php" -o "$tmp/MatomoTracker.php"
  curl -fsSL "$base/PiwikTracker.php" -o "$tmp/PiwikTracker.php"
  curl -fsSL "$base/LICENSE" -o "$tmp/LICENSE"
fi
grep -q "class MatomoTracker" "$tmp/MatomoTracker.php" || { echo "not the Matomo PHP tracker" >&2; exit 1; }
cp "$tmp/MatomoTracker.php" "$tmp/PiwikTracker.php" "$tmp/LICENSE" "$dir/"
echo "$version" >"$dir/VERSION"
echo "MatomoTracker.php $version: sha256 $(sha256sum "$dir/MatomoTracker.php" | cut -d' ' -f1)"
