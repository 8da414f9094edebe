"""``[errors] provider = "sentry"``: errors of a release over a window, for the hold-window watch.

Only Sentry's documented API is used (https://docs.sentry.io/api/):

- the release must exist in the project first (``GET /api/0/organizations/{org}/releases/
  {version}/``, "Retrieve an Organization's Release"); a release Sentry does not know is
  ``ReleaseNotFound``, a failed check, never zero errors: the app reports another release
  name, or none (the deploy sets ``SENTRY_RELEASE`` to the tag; the SDKs read it);
- the count comes from "Query Explore Events in Table Format", ``GET
  /api/0/organizations/{org}/events/?dataset=errors&field=count()``, with the query
  ``release:"<release>"``, the project's numeric id, ``errors.environment`` and the window
  ``[start, end]``. The project (``errors.project``, a slug) is turned into its id once
  (``GET /api/0/projects/{org}/{slug}/``).

The token comes from ``SENTRY_AUTH_TOKEN`` (org:read and project:read suffice);
``errors.api_url`` or ``SENTRY_URL`` points at a self-hosted Sentry or a local server.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError, InputError, ProviderError, ReleaseNotFound
from spectral_deploy.providers.http import ApiClient, install_redaction, secret_from_env

__all__ = ["COUNT_FIELD", "DATASET", "DEFAULT_URL", "SentryErrors", "count_of", "from_config"]

log = logging.getLogger(__name__)
install_redaction(__name__)

PROVIDER = "sentry"
AUTH_ENV = "SENTRY_AUTH_TOKEN"
BASE_URL_ENV = "SENTRY_URL"
DEFAULT_URL = "https://sentry.io"
DATASET = "errors"
COUNT_FIELD = "count()"


def count_of(answer: Any) -> int:
    """The ``count()`` of an events-table answer ``{"data": [{"count()": n}], "meta": ...}``."""
    rows = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise ValueError("no data list")
    if not rows:
        return 0
    value = rows[0].get(COUNT_FIELD) if isinstance(rows[0], dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"no {COUNT_FIELD} in the first row: {rows[0]!r}")
    return int(value)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InputError(f"{moment} has no time zone; Sentry windows are absolute times")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class SentryErrors:
    """Error counts of one project of one organization, in one environment."""

    def __init__(
        self, api: ApiClient, *, organization: str, project: str, environment: str = ""
    ) -> None:
        self.api = api
        self.organization = organization
        self.project = project
        self.environment = environment
        self._project_id: str | None = None

    def __repr__(self) -> str:
        return f"SentryErrors(organization={self.organization!r}, project={self.project!r})"

    def error_count(self, release: str, start: datetime, end: datetime) -> int:
        """Errors reported for ``release`` between ``start`` and ``end`` (ReleaseNotFound when
        Sentry knows no such release in the project)."""
        if end <= start:
            raise InputError(f"the window ends ({end}) before it starts ({start})")
        self.require_release(release)
        answer = self.api.get(
            f"/api/0/organizations/{self.organization}/events/",
            operation="error count",
            params={
                "dataset": DATASET,
                "field": COUNT_FIELD,
                "query": f'release:"{release}"',
                "project": self.project_id(),
                "environment": self.environment or None,
                "start": _iso(start),
                "end": _iso(end),
                "per_page": 1,
            },
        ).data
        try:
            count = count_of(answer)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ProviderError(
                f"unexpected events answer: {exc}", provider=PROVIDER, operation="error count"
            ) from exc
        log.info(
            "action=sentry.errors release=%s environment=%s count=%d",
            release,
            self.environment or "*",
            count,
        )
        return count

    def require_release(self, release: str) -> None:
        """ReleaseNotFound unless Sentry has ``release`` in this project."""
        response = self.api.get(
            f"/api/0/organizations/{self.organization}/releases/{quote(release, safe='')}/",
            operation="find release",
            allow=(404,),
        )
        data = response.data if isinstance(response.data, dict) else {}
        projects = data.get("projects") if response.status != 404 else None
        slugs = {p.get("slug") for p in projects or [] if isinstance(p, dict)}
        if response.status == 404 or (projects is not None and self.project not in slugs):
            raise ReleaseNotFound(
                f"Sentry has no release {release!r} in {self.organization}/{self.project}: its "
                "errors cannot be counted (the app reports another release name, or none)",
                hint=f"the app's Sentry SDK must report release {release!r}: the deploy sets "
                "SENTRY_RELEASE to the tag; an SDK configured with its own release= overrides it",
            )

    def project_id(self) -> str:
        """The numeric id of ``errors.project`` (looked up once)."""
        if self._project_id is None:
            data = self.api.get(
                f"/api/0/projects/{self.organization}/{self.project}/", operation="find project"
            ).data
            if not isinstance(data, dict) or not data.get("id"):
                raise ProviderError(
                    "no id in the project", provider=PROVIDER, operation="find project"
                )
            self._project_id = str(data["id"])
        return self._project_id


def from_config(config: Config) -> SentryErrors:
    """The Sentry project of ``[errors]``; the token from ``SENTRY_AUTH_TOKEN``."""
    for key in ("organization", "project"):
        if not getattr(config.errors, key):
            raise ConfigError(
                "is required with provider = sentry (the slug in Sentry's URLs)",
                key=f"errors.{key}",
                source=config.source,
            )
    token = secret_from_env(AUTH_ENV, purpose="a Sentry auth token with org:read, project:read")
    api = ApiClient(
        provider=PROVIDER,
        base_url=config.errors.api_url or os.environ.get(BASE_URL_ENV) or DEFAULT_URL,
        token=token,
        token_env=AUTH_ENV,
    )
    return SentryErrors(
        api,
        organization=config.errors.organization,
        project=config.errors.project,
        environment=config.errors.environment,
    )
