#!/usr/bin/env bash
# Regenerates the continent of each country that Matomo's UserCountry.getContinent groups
# countries by (src/api/matomo/data/continents/continents.tsv: ISO 3166-1 alpha-2 code, Matomo's
# continent code) from pycountry-convert (MIT, licence in LICENSE beside it), a pinned release
# taken from the Python package index as its source archive. Its North America is split as
# Matomo splits it: Central America and the Caribbean are `amc`, the rest `amn`.
#
#   scripts/update-continents.sh [VERSION]      (default: the pinned 0.7.2)
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-0.7.2}"
dir=src/api/matomo/data/continents
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: "pycountry-convert==$version" -d "$work"
tar xzf "$work/pycountry-convert-$version.tar.gz" -C "$work"
src="$work/pycountry-convert-$version"
python3 - "$src/pycountry_convert/convert_country_alpha2_to_continent_code.py" >"$dir/continents.tsv" <<'PY'
import runpy, sys
mapping = runpy.run_path(sys.argv[1])["COUNTRY_ALPHA2_TO_CONTINENT_CODE"]
# Central America and the Caribbean (ISO codes), which Matomo files apart from North America.
central = set("AG AI AW BB BL BM BQ BS BZ CR CU CW DM DO GD GP GT HN HT JM KN KY LC MF MQ MS NI PA PR SV SX TC TT VC VG VI".split())
matomo = {"AF": "afr", "AN": "ant", "AS": "asi", "EU": "eur", "OC": "oce", "SA": "ams"}
for code, continent in sorted(mapping.items()):
    if len(code) != 2 or not code.isalpha():
        continue
    name = ("amc" if code in central else "amn") if continent == "NA" else matomo[continent]
    print(f"{code}\t{name}")
PY
cp "$src/LICENSE" "$dir/LICENSE"
echo "pycountry-convert $version" >"$dir/VERSION"
echo "continents.tsv: $(wc -l <"$dir/continents.tsv") countries, $(cat "$dir/VERSION")"
