#!/usr/bin/env bash
# Replaces tests/data/plausible/query-api-schema.json with Plausible's schema at COMMIT (a
# commit of github.com/plausible/analytics). Run the tests afterwards and record the commit in
# tests/data/plausible/README.md.
set -euo pipefail
commit="${1:?usage: scripts/update-plausible-schema.sh COMMIT}"
cd "$(dirname "$0")/.."
curl -fsSL "https://raw.githubusercontent.com/plausible/analytics/${commit}/priv/json-schemas/query-api-schema.json" \
  -o tests/data/plausible/query-api-schema.json
echo "updated to ${commit}; now run: cargo test --test it plausible_api"
