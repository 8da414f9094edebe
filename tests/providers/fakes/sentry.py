"""Sentry's API, the part the Sentry provider uses: a project by slug and events-stats.

``GET /api/0/organizations/{org}/events-stats/?yAxis=count()&query=...&project=ID&start&end
&interval`` counts the stored events whose type and release match the query, bucketed by
``interval``: ``{"data": [[ts, [{"count": n}]], ...]}``. Errors are ``{"detail": ...}``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.providers.fakes.base import FakeServer, Recorded, Reply, route

__all__ = ["FakeSentry"]

_QUERY = re.compile(r'^event\.type:(?P<type>\w+) release:"(?P<release>[^"]+)"$')
_INTERVAL = re.compile(r"^(?P<n>\d+)(?P<unit>[smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class FakeSentry(FakeServer):
    """One organization with one project."""

    provider = "sentry"

    def __init__(self, token: str, *, organization: str = "acme", project: str = "shop") -> None:
        super().__init__(token)
        self.organization = organization
        self.project = project
        self.project_id = "4505123"
        self.events: list[tuple[datetime, str, str]] = []  # (when, type, release)

    @property
    def api_url(self) -> str:
        """What ``errors.api_url`` (or ``SENTRY_URL``) should be."""
        return self.url

    def add_event(self, when: datetime, release: str, kind: str = "error") -> None:
        """One event of ``release`` at ``when``."""
        self.events.append((when, kind, release))

    def unauthorized(self, request: Recorded) -> Reply:
        return Reply(401, {"detail": "Invalid token"})

    def not_found(self, request: Recorded) -> Reply:
        return Reply(404, {"detail": "The requested resource does not exist"})

    @route("GET", r"/api/0/projects/(?P<org>[^/]+)/(?P<slug>[^/]+)/")
    def get_project(self, request: Recorded, org: str, slug: str) -> Reply:
        if (org, slug) != (self.organization, self.project):
            return self.not_found(request)
        return Reply(200, {"id": self.project_id, "slug": slug, "name": slug})

    @route("GET", r"/api/0/organizations/(?P<org>[^/]+)/events-stats/")
    def events_stats(self, request: Recorded, org: str) -> Reply:
        if org != self.organization:
            return self.not_found(request)
        query = _QUERY.match(request.arg("query") or "")
        interval = _INTERVAL.match(request.arg("interval") or "")
        if request.arg("yAxis") != "count()" or query is None or interval is None:
            return Reply(400, {"detail": "Invalid query"})
        if request.arg("project") != self.project_id:
            return Reply(403, {"detail": "You do not have permission to perform this action."})
        start = _parse_time(request.arg("start") or "")
        end = _parse_time(request.arg("end") or "")
        step = timedelta(seconds=int(interval["n"]) * _UNITS[interval["unit"]])
        data = []
        bucket = start
        while bucket < end:
            count = sum(
                1
                for when, kind, release in self.events
                if bucket <= when < min(bucket + step, end)
                and kind == query["type"]
                and release == query["release"]
            )
            data.append([int(bucket.timestamp()), [{"count": count}]])
            bucket += step
        return Reply(
            200, {"data": data, "start": int(start.timestamp()), "end": int(end.timestamp())}
        )
