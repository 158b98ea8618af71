#!/usr/bin/env bash
# Updates the vendored Matomo log importer that the tests run unchanged
# (tests/clients/matomo-log-analytics/): `import_logs.py` (GPL-3.0-or-later, licence in
# LICENSE.txt and LEGALNOTICE beside it), pinned to a commit in VERSION.
#
#   scripts/update-matomo-log-importer.sh COMMIT      a commit (or tag) of matomo-org/matomo-log-analytics
#
# Takes the files of that commit from GitHub (or, with MATOMO_LOG_ANALYTICS_CHECKOUT=DIR, from a
# local git checkout), writes them and the commit, and prints the checksum to note in the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=${1:?usage: scripts/update-matomo-log-importer.sh COMMIT}
dir=tests/clients/matomo-log-analytics
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=(import_logs.py LICENSE.txt LEGALNOTICE)
if [ -n "${MATOMO_LOG_ANALYTICS_CHECKOUT:-}" ]; then
  commit=$(git -C "$MATOMO_LOG_ANALYTICS_CHECKOUT" rev-parse "$commit^{commit}")
  for f in "${files[@]}"; do git -C "$MATOMO_LOG_ANALYTICS_CHECKOUT" show "$commit:$f" >"$tmp/$f"; done
else
  base="https://raw.githubusercontent.com/matomo-org/matomo-log-analytics/$commit"
  for f in "${files[@]}"; do curl -fsSL "$base/$f" -o "$tmp/$f"; done
fi
grep -q "class Recorder" "$tmp/import_logs.py" || { echo "not Matomo's log importer" >&2; exit 1; }
for f in "${files[@]}"; do cp "$tmp/$f" "$dir/$f"; done
echo "$commit" >"$dir/VERSION"
echo "import_logs.py $commit: sha256 $(sha256sum "$dir/import_logs.py" | cut -d' ' -f1)"
