#!/usr/bin/env bash
# Regenerates the country names Matomo's reports label countries with
# (src/api/matomo/data/countries.tsv: ISO 3166-1 alpha-2 code, English name, French name) from
# the iso-codes project (LGPL-2.1-or-later, licence in LICENSE beside it) as Debian packages it:
# the English names from its JSON, the French ones from its translation catalogue.
#
#   scripts/update-country-names.sh          (needs the `iso-codes` package: apt-get install iso-codes)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=src/api/matomo/data
json=/usr/share/iso-codes/json/iso_3166-1.json
catalogue=/usr/share/locale/fr/LC_MESSAGES/iso_3166-1.mo
[ -f "$json" ] && [ -f "$catalogue" ] || { echo "install iso-codes first" >&2; exit 1; }
python3 - "$json" "$catalogue" >"$dir/countries.tsv" <<'PY'
import gettext, json, sys
countries = json.load(open(sys.argv[1]))["3166-1"]
french = gettext.GNUTranslations(open(sys.argv[2], "rb"))
for c in sorted(countries, key=lambda c: c["alpha_2"]):
    name = c.get("common_name", c["name"])
    print(f'{c["alpha_2"]}\t{name}\t{french.gettext(name) if name != french.gettext(name) else french.gettext(c["name"])}')
PY
cp /usr/share/common-licenses/LGPL-2.1 "$dir/LICENSE"
dpkg-query -W -f='iso-codes ${Version}\n' iso-codes >"$dir/VERSION"
echo "countries.tsv: $(wc -l <"$dir/countries.tsv") countries, $(cat "$dir/VERSION")"
