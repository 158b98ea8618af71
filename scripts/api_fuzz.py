#!/usr/bin/env python3
"""Schema-driven fuzzing of a running collector's stats endpoints, with third-party tools.

    python3 scripts/api_fuzz.py BASE_URL TOKEN DOMAIN SITE_ID [EXAMPLES]

1. schemathesis (PyPI) reads the collector's own OpenAPI document (`BASE_URL/api/openapi.json`,
   docs/openapi.json) and sends what it generates from it, valid and invalid, to every operation
   with the site's API token: no answer may be a 5xx, and every answer must be one the document
   lists (status, content type, body schema). 503 and 429 are documented, but with nothing
   else running here neither may happen: any 5xx fails.
2. hypothesis-jsonschema (PyPI) generates Stats API v2 requests from Plausible's own published
   JSON schema (vendored in tests/data/plausible/), with the site's domain as `site_id`: every
   one must be answered 200 with a body in Plausible's shape, or refused 400 with a message;
   never a 5xx, never a dropped connection.

Bounded: EXAMPLES per operation (default 40), a time budget for schemathesis, a timeout per
request. Exits non-zero on the first failure, printing the request that failed.
"""

import json
import pathlib
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLAUSIBLE_SCHEMA = ROOT / "tests/data/plausible/query-api-schema.json"


def run_schemathesis(base: str, token: str, examples: int) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/openapi.json",
        "--url", base,
        "--header", f"Authorization: Bearer {token}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(examples),
        "--max-time", "60",
        "--workers", "1",
        "--request-timeout", "30",
        "--seed", "1",
        "--generation-deterministic",
        "--no-color",
        "--warnings", "off",
    ]
    # Its cache and reports go to a scratch directory, not into the checkout.
    with tempfile.TemporaryDirectory(prefix="mesure-schemathesis-") as scratch:
        result = subprocess.run(command, timeout=300, cwd=scratch)
    if result.returncode != 0:
        sys.exit(f"schemathesis found answers the document does not allow (exit {result.returncode})")


def post(base: str, token: str, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{base}/api/v2/query",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def unrolled(schema: dict) -> dict:
    """Plausible's schema with its recursive filter trees unrolled two levels deep (a tree of
    `and`/`or`/`not` over trees of plain filters): hypothesis-jsonschema cannot draw from a
    recursive schema."""
    definitions = schema["definitions"]
    tree = definitions["filter_tree"]

    def level(inner: str, name: str) -> None:
        definitions[f"filter_not_{name}"] = json.loads(
            json.dumps(definitions["filter_not"]).replace("#/definitions/filter_tree", inner))
        definitions[f"filter_and_or_{name}"] = json.loads(
            json.dumps(definitions["filter_and_or"]).replace("#/definitions/filter_tree", inner))
        definitions[f"filter_has_done_{name}"] = json.loads(
            json.dumps(definitions["filter_has_done"]).replace("#/definitions/filter_tree", inner))
        definitions[f"filter_tree_{name}"] = {"oneOf": [
            {"$ref": "#/definitions/filter_entry"},
            {"$ref": f"#/definitions/filter_and_or_{name}"},
            {"$ref": f"#/definitions/filter_not_{name}"},
            {"$ref": f"#/definitions/filter_has_done_{name}"},
        ]}

    level("#/definitions/filter_entry", "1")
    level("#/definitions/filter_tree_1", "2")
    for name in ("filter_tree", "filter_not", "filter_and_or", "filter_has_done"):
        del definitions[name]
    assert tree
    text = json.dumps(schema).replace('"#/definitions/filter_tree"', '"#/definitions/filter_tree_2"')
    return json.loads(text)


def run_plausible_schema(base: str, token: str, domain: str, examples: int) -> int:
    schema = unrolled(json.loads(PLAUSIBLE_SCHEMA.read_text()))
    seen = {"answered": 0, "refused": 0}

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(from_schema(schema))
    def every_valid_request_is_answered_or_refused(query):
        query = dict(query)
        query["site_id"] = domain
        status, body = post(base, token, query)
        text = body.decode("utf-8", "replace")
        assert status in (200, 400), f"{status} for {json.dumps(query)}: {text[:500]}"
        answer = json.loads(text)
        if status == 200:
            assert isinstance(answer.get("results"), list) and "query" in answer, text[:500]
            seen["answered"] += 1
        else:
            assert isinstance(answer.get("error"), str) and answer["error"], text[:500]
            seen["refused"] += 1

    every_valid_request_is_answered_or_refused()
    print(f"Plausible's schema: {seen['answered']} answered, {seen['refused']} refused with a message")
    return seen["answered"]


def main() -> None:
    base, token, domain, _site_id = sys.argv[1:5]
    examples = int(sys.argv[5]) if len(sys.argv) > 5 else 40
    run_schemathesis(base.rstrip("/"), token, examples)
    answered = run_plausible_schema(base.rstrip("/"), token, domain, examples * 5)
    if answered == 0:
        sys.exit("no generated v2 request was answered: the run proved nothing")


if __name__ == "__main__":
    main()
