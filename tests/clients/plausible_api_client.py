#!/usr/bin/env python3
"""A third-party Plausible Stats API client, run unchanged against the collector.

    python3 plausible_api_client.py BASE_URL TOKEN SITE FROM TO

`plausible-mcp` (PyPI, MIT, pinned in requirements.txt) is a Plausible API client whose host is
configured by PLAUSIBLE_BASE_URL, as a self-hosted Plausible user sets it; its report functions
are called as its users call them. Prints one JSON object: each report as the client returns it.
Its telemetry is switched off the way it documents (DO_NOT_TRACK=1), so nothing leaves loopback.
"""
import json
import os
import sys

base, token, site, first, last = sys.argv[1:6]
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PLAUSIBLE_BASE_URL"] = base
os.environ["PLAUSIBLE_API_KEY"] = token

from plausible_mcp import server  # noqa: E402  (reads the environment above)

days = f"{first},{last}"
reports = {
    "aggregate": server.get_aggregate_stats(site, days, ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]),
    "breakdown": server.get_breakdown(site, "country", days),
    "pages": server.get_breakdown(site, "page", days, limit=2),
    "timeseries": server.get_timeseries(site, days),
    "realtime": server.get_realtime_visitors(site),
    "unknown_site": server.get_aggregate_stats("nobody.example", days),
}
out = {}
for name, text in reports.items():
    try:
        out[name] = json.loads(text)
    except ValueError:
        out[name] = {"error": text}
print(json.dumps(out))
