"""Sentry's API, the documented part the Sentry provider uses, and nothing else.

- ``GET /api/0/projects/{org}/{slug}/`` ("Retrieve a Project"): the project's numeric id.
- ``GET /api/0/organizations/{org}/releases/{version}/`` ("Retrieve an Organization's
  Release"): 404 for a release Sentry has never seen. A release comes into being when the
  first event reporting it arrives (or with ``add_release``), as in Sentry.
- ``GET /api/0/organizations/{org}/events/`` ("Query Explore Events in Table Format"):
  ``field`` and ``dataset`` are required (400 otherwise, as the schema says); this fake
  answers ``dataset=errors`` with ``field=count()``, filtered by ``query`` (``release:"X"``,
  optionally ``event.type:error``), ``project`` ids, ``environment`` and ``start``/``end``:
  ``{"data": [{"count()": n}], "meta": {...}}``.

Any other path, ``events-stats`` included (not in Sentry's published API schema), is a 404:
the fake is as strict as the documentation. Errors are ``{"detail": ...}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from tests.providers.fakes.base import FakeServer, Recorded, Reply, route

__all__ = ["FakeSentry", "SentryEvent"]

_TERM = re.compile(r'(?P<key>[\w.]+):(?:"(?P<quoted>[^"]*)"|(?P<bare>\S+))')
DATASETS = ("errors", "logs", "profile_functions", "spans", "tracemetrics", "uptime_results")


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SentryEvent:
    """One stored event."""

    when: datetime
    release: str
    environment: str = "production"
    kind: str = "error"


class FakeSentry(FakeServer):
    """One organization with one project."""

    provider = "sentry"

    def __init__(self, token: str, *, organization: str = "acme", project: str = "shop") -> None:
        super().__init__(token)
        self.organization = organization
        self.project = project
        self.project_id = "4505123"
        self.events: list[SentryEvent] = []
        self.releases: set[str] = set()

    @property
    def api_url(self) -> str:
        """What ``errors.api_url`` (or ``SENTRY_URL``) should be."""
        return self.url

    def add_event(
        self, when: datetime, release: str, kind: str = "error", environment: str = "production"
    ) -> None:
        """One event of ``release`` at ``when`` (its release now exists in Sentry)."""
        with self.lock:
            self.events.append(SentryEvent(when, release, environment, kind))
            self.releases.add(release)

    def add_release(self, release: str) -> None:
        """A release Sentry knows (sessions or an SDK's start registered it) with no event."""
        with self.lock:
            self.releases.add(release)

    def unauthorized(self, request: Recorded) -> Reply:
        return Reply(401, {"detail": "Invalid token"})

    def not_found(self, request: Recorded) -> Reply:
        return Reply(404, {"detail": "The requested resource does not exist"})

    @route("GET", r"/api/0/projects/(?P<org>[^/]+)/(?P<slug>[^/]+)/")
    def get_project(self, request: Recorded, org: str, slug: str) -> Reply:
        if (org, slug) != (self.organization, self.project):
            return self.not_found(request)
        return Reply(200, {"id": self.project_id, "slug": slug, "name": slug})

    @route("GET", r"/api/0/organizations/(?P<org>[^/]+)/releases/(?P<version>[^/]+)/")
    def get_release(self, request: Recorded, org: str, version: str) -> Reply:
        version = unquote(version)
        if org != self.organization or version not in self.releases:
            return self.not_found(request)
        return Reply(
            200,
            {
                "version": version,
                "projects": [{"id": int(self.project_id), "slug": self.project}],
                "newGroups": 0,
            },
        )

    @route("GET", r"/api/0/organizations/(?P<org>[^/]+)/events/")
    def events(self, request: Recorded, org: str) -> Reply:
        if org != self.organization:
            return self.not_found(request)
        fields = request.query.get("field") or []
        dataset = request.arg("dataset")
        if not fields:
            return Reply(400, {"detail": "No columns selected"})
        if dataset not in DATASETS:
            return Reply(400, {"dataset": [f'"{dataset}" is not a valid choice.']})
        if dataset != "errors" or fields != ["count()"]:
            return Reply(400, {"detail": "this fake answers dataset=errors&field=count() only"})
        projects = request.query.get("project") or []
        if projects and projects != [self.project_id]:
            return Reply(403, {"detail": "You do not have permission to perform this action."})
        environments = set(request.query.get("environment") or [])
        start = _parse_time(request.arg("start") or "1970-01-01T00:00:00")
        end = _parse_time(request.arg("end") or "2999-01-01T00:00:00")
        terms = {
            m["key"]: m["quoted"] if m["quoted"] is not None else m["bare"]
            for m in _TERM.finditer(request.arg("query") or "")
        }
        if set(terms) - {"release", "event.type"}:
            return Reply(400, {"detail": "this fake filters on release and event.type only"})
        count = sum(
            1
            for event in self.events
            if start <= event.when < end
            and event.kind in ("error", "default")
            and ("event.type" not in terms or event.kind == terms["event.type"])
            and ("release" not in terms or event.release == terms["release"])
            and (not environments or event.environment in environments)
        )
        return Reply(
            200, {"data": [{"count()": count}], "meta": {"fields": {"count()": "integer"}}}
        )
