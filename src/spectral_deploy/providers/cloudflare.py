"""``[dns] provider = "cloudflare"``: the public CNAME in a Cloudflare zone, via the official SDK.

The record ``dns.record`` is found by exact name in ``dns.zone_id``; ``point`` patches
its ``content``, ``ttl`` and ``proxied`` and then reads it back with a fresh GET, which is
how a flip is confirmed (SPEC §3: by the API, not by resolving DNS).

A record that is not proxied honours its TTL (60 s by default). A proxied record's TTL
is fixed by Cloudflare at 300 s ("Automatic", ``ttl = 1`` in the API) and the flip takes
effect at Cloudflare's edge, not in resolvers: ``read`` reports such a TTL as 300.
Cloudflare accepts TTLs of 60 to 86400 s (30 on Enterprise zones), or 1 for "Automatic":
a TTL below 60 is refused here, before any call, since ``1`` would silently mean 300 s while
the cutover waited 1 s for clients to follow a flip.

Names are compared as DNS compares them: ``read`` reports the target without its trailing
dot and in lower case.

The token comes from ``CLOUDFLARE_API_TOKEN``; ``CLOUDFLARE_BASE_URL`` points the SDK at
another server (the tests' local one).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx

from spectral_deploy.config import Config, normalize_host
from spectral_deploy.errors import (
    ConfigError,
    InputError,
    PreconditionFailed,
    ProviderError,
    ProviderUnavailable,
)
from spectral_deploy.providers.base import DnsRecord
from spectral_deploy.providers.http import (
    DEFAULT_TIMEOUT,
    RetryingTransport,
    RetryPolicy,
    Secret,
    error_class,
    install_redaction,
    redact,
    secret_from_env,
    vendor_message,
)

__all__ = [
    "AUTH_ENV",
    "AUTOMATIC_TTL_SECONDS",
    "MIN_TTL_SECONDS",
    "PROVIDER",
    "CloudflareDns",
    "check_ttl",
    "from_config",
    "make_client",
]

log = logging.getLogger(__name__)
install_redaction(__name__)

PROVIDER = "cloudflare"
AUTH_ENV = "CLOUDFLARE_API_TOKEN"
BASE_URL_ENV = "CLOUDFLARE_BASE_URL"
# Cloudflare's "Automatic" TTL (ttl = 1 in the API), which every proxied record has
AUTOMATIC_TTL_SECONDS = 300
_API_AUTOMATIC_TTL = 1
# Cloudflare's lowest TTL outside Enterprise zones (its API: "between 60 and 86400 seconds,
# or 1 for Automatic"); 1 is refused because it means 300 s, not 1
MIN_TTL_SECONDS = 60


def make_client(
    token: Secret,
    *,
    base_url: str | None = None,
    policy: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Any = None,
) -> Any:
    """A ``cloudflare.Cloudflare`` client whose HTTP goes through our ``RetryingTransport``.

    The SDK retries on its own (twice by default, honouring ``Retry-After``); stacked on
    ours that would multiply the attempts and the waits, so its ``max_retries`` is 0 and
    the one retry policy of every provider applies.
    """
    import cloudflare  # noqa: PLC0415  the SDK takes ~0.5 s to import; only DNS commands need it

    options: dict[str, Any] = {"policy": policy}
    if sleep is not None:
        options["sleep"] = sleep
    http_client = httpx.Client(
        transport=RetryingTransport(transport, **options),
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=True,
    )
    return cloudflare.Cloudflare(
        api_token=token.reveal(),
        base_url=base_url or os.environ.get(BASE_URL_ENV) or None,
        max_retries=0,
        http_client=http_client,
    )


class CloudflareDns:
    """The CNAME ``name`` in zone ``zone_id``."""

    def __init__(self, client: Any, *, zone_id: str, name: str, proxied: bool = False) -> None:
        self._client = client
        self.zone_id = zone_id
        self.name = normalize_host(name)
        self.proxied = proxied

    def __repr__(self) -> str:
        return f"CloudflareDns(zone_id={self.zone_id!r}, name={self.name!r})"

    def read(self) -> DnsRecord:
        """The record as Cloudflare has it now."""
        return _to_record(self._find())

    def point(self, target: str, ttl: int) -> DnsRecord:
        """Patch the record's content (and TTL, proxied) and read it back with a fresh GET."""
        check_ttl(ttl, proxied=self.proxied)
        record = self._find()
        target = normalize_host(target)
        api_ttl = _API_AUTOMATIC_TTL if self.proxied else ttl
        log.info(
            "action=dns.point provider=cloudflare record=%s from=%s to=%s ttl=%d proxied=%s",
            self.name,
            record.content,
            target,
            ttl,
            self.proxied,
        )
        if self.proxied:
            log.info(
                "action=dns.point.proxied record=%s note=%s",
                self.name,
                "proxied: TTL fixed at 300 s; the flip happens at Cloudflare's edge",
            )
        with self._translated("update record"):
            self._client.dns.records.edit(
                record.id,
                zone_id=self.zone_id,
                name=record.name,
                type="CNAME",
                content=target,
                ttl=api_ttl,
                proxied=self.proxied,
            )
        with self._translated("read back record"):
            fresh = self._client.dns.records.get(record.id, zone_id=self.zone_id)
        if fresh is None:
            raise ProviderError(
                f"{self.name} vanished after the update",
                provider=PROVIDER,
                operation="read back record",
            )
        return _to_record(fresh)

    def _find(self) -> Any:
        with self._translated("find record"):
            page = self._client.dns.records.list(
                zone_id=self.zone_id, name={"exact": self.name}, type="CNAME", per_page=50
            )
            found = [r for r in page.result if normalize_host(str(r.name)) == self.name]
        if not found:
            raise PreconditionFailed(
                f"cloudflare: no CNAME record named {self.name} in zone {self.zone_id}",
                hint="create it once in the Cloudflare dashboard (DNS only, TTL 60), "
                "pointing at the live color",
            )
        if len(found) > 1:
            raise PreconditionFailed(
                f"cloudflare: {len(found)} CNAME records named {self.name}; expected one"
            )
        return found[0]

    def _translated(self, operation: str) -> _Translate:
        return _Translate(operation)


class _Translate:
    """Turns the SDK's exceptions into ``ProviderError`` (status, Cloudflare's message)."""

    def __init__(self, operation: str) -> None:
        self.operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            return
        import cloudflare  # noqa: PLC0415  already imported by make_client

        if isinstance(exc, cloudflare.APIStatusError):
            body = exc.response.content
            message = vendor_message(body) or exc.response.reason_phrase or "request failed"
            hint = None
            if exc.status_code in (400, 401, 403) and "auth" in message.lower():
                hint = f"check {AUTH_ENV}: it needs Zone / DNS / Edit on this zone"
            raise error_class(exc.status_code)(
                redact(message),
                provider=PROVIDER,
                operation=self.operation,
                status=exc.status_code,
                hint=hint,
            ) from exc
        if isinstance(exc, cloudflare.APITimeoutError):
            raise ProviderUnavailable(
                "no answer in time", provider=PROVIDER, operation=self.operation
            ) from exc
        if isinstance(exc, cloudflare.APIConnectionError):
            raise ProviderUnavailable(
                redact(f"cannot reach the API: {exc.__cause__ or exc}"),
                provider=PROVIDER,
                operation=self.operation,
            ) from exc
        if isinstance(exc, ValueError):  # the SDK's json.loads of a malformed body
            raise ProviderError(
                "malformed JSON in the response", provider=PROVIDER, operation=self.operation
            ) from exc


def check_ttl(ttl: int, *, proxied: bool) -> None:
    """InputError for a TTL Cloudflare would refuse, or take as "Automatic" (300 s)."""
    if not proxied and ttl < MIN_TTL_SECONDS:
        raise InputError(
            f"TTL {ttl} s is below Cloudflare's minimum of {MIN_TTL_SECONDS} s for a record "
            "that is not proxied (1 would mean Automatic, 300 s)",
            hint=f"use --ttl {MIN_TTL_SECONDS} (dns.ttl = {MIN_TTL_SECONDS})",
        )


def _to_record(record: Any) -> DnsRecord:
    ttl = int(record.ttl or _API_AUTOMATIC_TTL)
    return DnsRecord(
        name=normalize_host(str(record.name)),
        target=normalize_host(str(record.content)),
        ttl=AUTOMATIC_TTL_SECONDS if ttl == _API_AUTOMATIC_TTL else ttl,
        proxied=bool(record.proxied),
    )


def from_config(config: Config) -> CloudflareDns:
    """The Cloudflare DNS provider of ``[dns]``; the token from ``CLOUDFLARE_API_TOKEN``."""
    if not config.dns.zone_id:
        raise ConfigError(
            "is required with provider = cloudflare (the zone's id, from its Overview page)",
            key="dns.zone_id",
            source=config.source,
        )
    if not config.dns.proxied and config.dns.ttl < MIN_TTL_SECONDS:
        raise ConfigError(
            f"is {config.dns.ttl}: Cloudflare's minimum is {MIN_TTL_SECONDS} s for a record that "
            "is not proxied (1 would mean Automatic, 300 s)",
            key="dns.ttl",
            source=config.source,
            hint=f"dns.ttl = {MIN_TTL_SECONDS}",
        )
    token = secret_from_env(AUTH_ENV, purpose="a Cloudflare API token with DNS:Edit on the zone")
    return CloudflareDns(
        make_client(token),
        zone_id=config.dns.zone_id,
        name=config.dns.record,
        proxied=config.dns.proxied,
    )
