"""``[errors] provider = "sentry"``: errors of a release over a window, for the hold-window watch.

The count comes from ``GET /api/0/organizations/{org}/events-stats/`` with ``yAxis=count()``
and the query ``event.type:error release:"<release>"`` over ``[start, end]``, summed over
its buckets. The project (``errors.project``, a slug) is turned into its numeric id once
(``GET /api/0/projects/{org}/{slug}/``), since the events endpoints filter by id.

The token comes from ``SENTRY_AUTH_TOKEN`` (org:read and project:read suffice);
``errors.api_url`` or ``SENTRY_URL`` points at a self-hosted Sentry or a local server.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError, InputError, ProviderError
from spectral_deploy.providers.http import ApiClient, install_redaction, secret_from_env

__all__ = ["DEFAULT_URL", "SentryErrors", "bucket_interval", "from_config", "sum_counts"]

log = logging.getLogger(__name__)
install_redaction(__name__)

PROVIDER = "sentry"
AUTH_ENV = "SENTRY_AUTH_TOKEN"
BASE_URL_ENV = "SENTRY_URL"
DEFAULT_URL = "https://sentry.io"
MAX_BUCKETS = 100
# intervals Sentry's stats endpoints accept, in seconds
_INTERVALS = (
    (60, "1m"),
    (300, "5m"),
    (900, "15m"),
    (1800, "30m"),
    (3600, "1h"),
    (14400, "4h"),
    (43200, "12h"),
    (86400, "1d"),
)


def bucket_interval(window_seconds: float) -> str:
    """The finest interval that covers the window in at most ``MAX_BUCKETS`` buckets."""
    for seconds, name in _INTERVALS:
        if window_seconds / seconds <= MAX_BUCKETS:
            return name
    return _INTERVALS[-1][1]


def sum_counts(stats: Any) -> int:
    """Total of an events-stats answer ``{"data": [[ts, [{"count": n}]], ...]}``."""
    data = stats.get("data") if isinstance(stats, dict) else None
    if not isinstance(data, list):
        raise ValueError("no data list")
    total = 0
    for bucket in data:
        if not isinstance(bucket, list) or len(bucket) != 2 or not isinstance(bucket[1], list):
            raise ValueError(f"unexpected bucket {bucket!r}")
        for value in bucket[1]:
            total += int(value.get("count") or 0) if isinstance(value, dict) else 0
    return total


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InputError(f"{moment} has no time zone; Sentry windows are absolute times")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class SentryErrors:
    """Error counts of one project of one organization."""

    def __init__(self, api: ApiClient, *, organization: str, project: str) -> None:
        self.api = api
        self.organization = organization
        self.project = project
        self._project_id: str | None = None

    def __repr__(self) -> str:
        return f"SentryErrors(organization={self.organization!r}, project={self.project!r})"

    def error_count(self, release: str, start: datetime, end: datetime) -> int:
        """Errors reported for ``release`` between ``start`` and ``end``."""
        if end <= start:
            raise InputError(f"the window ends ({end}) before it starts ({start})")
        stats = self.api.get(
            f"/api/0/organizations/{self.organization}/events-stats/",
            operation="error count",
            params={
                "yAxis": "count()",
                "query": f'event.type:error release:"{release}"',
                "project": self.project_id(),
                "start": _iso(start),
                "end": _iso(end),
                "interval": bucket_interval((end - start).total_seconds()),
            },
        ).data
        try:
            count = sum_counts(stats)
        except (ValueError, TypeError) as exc:
            raise ProviderError(
                f"unexpected events-stats answer: {exc}",
                provider=PROVIDER,
                operation="error count",
            ) from exc
        log.info("action=sentry.errors release=%s count=%d", release, count)
        return count

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
    return SentryErrors(api, organization=config.errors.organization, project=config.errors.project)
