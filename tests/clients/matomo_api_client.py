"""Matomo's Reporting API through `matomo-api` (PyPI), a third-party Python client, unchanged:
the calls a dashboard script makes. Prints one JSON object of the answers.

    python3 matomo_api_client.py BASE_URL TOKEN
"""
import json
import sys

import matomo_api as ma

url, token = sys.argv[1], sys.argv[2]
api = ma.MatomoApi(url, token)
common = ma.format.json | ma.idSite.one_or_more(1)
answers = {
    "version": api.API().getMatomoVersion(ma.format.json).json(),
    "summary": api.VisitsSummary().get(common | ma.period.range | ma.date.previous(2)).json(),
    "days": api.VisitsSummary().getVisits(common | ma.period.day | ma.date.last(3)).json(),
    "countries": api.UserCountry().getCountry(
        common | ma.period.day | ma.date.yesterday | ma.language.fr
        | ma.filter_sort_column(ma.col.nb_visits) | ma.showColumns(ma.col.nb_visits)
    ).json(),
    "pages": api.Actions().getPageUrls(
        common | ma.period.range | ma.date.previous(2) | ma.flat() | ma.filter_limit(2)
        | ma.filter_sort_column(ma.col.nb_hits) | ma.showColumns(ma.col.nb_hits)
    ).json(),
    "week": api.VisitsSummary().get(common | ma.period.week | ma.date.lastWeek).json(),
    "visitor_log": api.Live().getLastVisitsDetails(common | ma.period.day | ma.date.today).json(),
}
print(json.dumps(answers))
