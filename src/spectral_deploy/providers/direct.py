"""A slot's direct (non-public) address over HTTP: the deploy's smoke test, and the client
the local and Render hostings' health checks use.

An app's own address is asked as a browser would ask it: redirects followed, no retries (the
caller decides what a failure means), no credentials. Every probe opens a new connection: a
connection kept alive to a slot's old process would let that process answer for the slot
while a new one replaces it (a health check passing on the old web process, then the smoke
test refused by the port the new one has not bound yet). The ``httpx.Client`` is injected, as
the vendor providers' are (``RenderHosting(health_client=...)``), so a test hands in one over
``httpx.MockTransport`` and needs no network. ``SmokeFetch`` is the ``fetch`` provider of
every real hosting provider (``providers.fetch``); the in-process fake world has its own.
"""

from __future__ import annotations

import httpx

from spectral_deploy.config import Config

__all__ = ["SMOKE_TIMEOUT_SECONDS", "SmokeFetch", "direct_client", "fetch_from_config"]

SMOKE_TIMEOUT_SECONDS = 10.0


def direct_client(timeout_seconds: float) -> httpx.Client:
    """A client for an app's own address: ``timeout_seconds`` per request, redirects followed,
    a new connection each time (no connection is kept alive between probes)."""
    return httpx.Client(
        timeout=timeout_seconds,
        follow_redirects=True,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


class SmokeFetch:
    """GET a URL of a slot's direct address: the status of the answer, whatever it is;
    ``OSError`` when nothing answers (``TimeoutError`` when it answers too late)."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client if client is not None else direct_client(SMOKE_TIMEOUT_SECONDS)

    def __call__(self, url: str) -> int:
        """GET ``url``."""
        try:
            return self.client.get(url).status_code
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"no answer within the timeout ({type(exc).__name__})") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # refused, reset, endless redirects, a body that cannot be decoded, a bad URL
            raise ConnectionError(str(exc) or type(exc).__name__) from exc


def fetch_from_config(config: Config) -> SmokeFetch:
    """The smoke test's HTTP client for every real hosting provider."""
    return SmokeFetch()
