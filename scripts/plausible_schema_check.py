#!/usr/bin/env python3
"""Validates Stats API v2 request bodies against Plausible's published JSON schema.

    python3 scripts/plausible_schema_check.py REQUESTS.json

REQUESTS.json is a JSON list of request bodies; prints a JSON list of booleans (valid or not),
in order. The schema is tests/data/plausible/query-api-schema.json (vendored, AGPL-3.0, see the
README there); like Plausible for its public API, the parts marked "only :internal" are left
out first. Needs the `jsonschema` package (PyPI).
"""
import json
import pathlib
import sys

import jsonschema

SCHEMA = pathlib.Path(__file__).resolve().parent.parent / "tests/data/plausible/query-api-schema.json"


def public(node):
    """The schema without what Plausible reserves for its own dashboard."""
    internal = lambda n: isinstance(n, dict) and "only :internal" in str(n.get("$comment", ""))
    if isinstance(node, dict):
        return {k: public(v) for k, v in node.items() if not internal(v)}
    if isinstance(node, list):
        return [public(v) for v in node if not internal(v)]
    return node


def main():
    schema = public(json.loads(SCHEMA.read_text()))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    requests = json.loads(pathlib.Path(sys.argv[1]).read_text())
    print(json.dumps([validator.is_valid(r) for r in requests]))


if __name__ == "__main__":
    main()
