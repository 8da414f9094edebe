"""``[dns] public_url``: a request to the public address, reading who served it.

The answer's ``Spectral-Generation`` header (``spectral_deploy.middleware``) names the
generation; the local router's ``X-Spectral-Upstream`` header, where present, the slot. The
request goes through the shared HTTP client (``providers.http``) with one attempt and a short
timeout: the caller polls, so a retry here would only hide what the address does now.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError
from spectral_deploy.middleware import GENERATION_HEADER
from spectral_deploy.providers.base import ProbeReading, color_of
from spectral_deploy.providers.http import ApiClient, RetryPolicy

__all__ = ["PROBE_TIMEOUT_SECONDS", "UPSTREAM_HEADER", "HttpProbe", "from_config"]

PROBE_TIMEOUT_SECONDS = 5.0
UPSTREAM_HEADER = "X-Spectral-Upstream"


class HttpProbe:
    """``PublicProbe`` over HTTP: GET ``url`` and read the headers of the answer."""

    def __init__(self, config: Config, url: str, *, transport: httpx.BaseTransport | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"must be an http(s) URL of the public hostname, got {url!r}",
                key="dns.public_url",
                source=config.source,
            )
        self.config = config
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.api = ApiClient(
            provider="public address",
            base_url=f"{parts.scheme}://{parts.netloc}",
            timeout=httpx.Timeout(PROBE_TIMEOUT_SECONDS),
            policy=RetryPolicy(attempts=1),
            transport=transport,
        )

    def probe(self) -> ProbeReading:
        """GET the public address now (``ProviderError`` when it does not answer)."""
        response = self.api.request(
            "GET", self.path, operation="probe", allow=range(100, 600), expect_json=False
        )
        answer = f"HTTP {response.status}"
        upstream = response.headers.get(UPSTREAM_HEADER)
        color = color_of(self.config, upstream) if upstream else None
        raw = response.headers.get(GENERATION_HEADER, "").strip()
        if not raw.isdigit():
            return ProbeReading(
                color,
                None,
                f"{answer} without the {GENERATION_HEADER} header",
                header_missing=200 <= response.status < 400,
            )
        return ProbeReading(color, int(raw), f"{answer}, {GENERATION_HEADER}: {raw}")


def from_config(config: Config) -> HttpProbe:
    """The probe of ``[dns] public_url``."""
    return HttpProbe(config, config.dns.public_url)
