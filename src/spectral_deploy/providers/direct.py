"""A slot's direct (non-public) address over HTTP: the deploy's smoke test.

The ``fetch`` provider of every real hosting provider (``providers.fetch``); the in-process
fake world has its own.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable

from spectral_deploy.config import Config

__all__ = ["SMOKE_TIMEOUT_SECONDS", "fetch_from_config", "http_status"]

SMOKE_TIMEOUT_SECONDS = 10.0


def fetch_from_config(config: Config) -> Callable[[str], int]:
    """The smoke test's HTTP client for every real hosting provider."""
    return http_status


def http_status(url: str) -> int:
    """GET ``url``: the HTTP status; ``OSError`` when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=SMOKE_TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
