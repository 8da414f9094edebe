"""The one HTTP layer of the vendor providers: timeouts, bounded retries, errors, redaction.

Every vendor call (Render, GitHub, Slack, Sentry through ``ApiClient``; Cloudflare through
its SDK, given an ``httpx.Client`` built on the same transport) goes through
``RetryingTransport``: 429 and a refused connection are retried for any method (the
request was not acted on), 5xx and timeouts only for methods that are safe to repeat, each
after an exponential backoff with jitter or the ``Retry-After`` the vendor asked for,
and never more than ``RetryPolicy.attempts`` times in all.

``ApiClient`` turns what is left into ``ProviderError`` naming the provider, the
operation and the HTTP status, with the vendor's own short message when the body has
one; a body that should be JSON and is not is reported as such.

Secrets: tokens (and the Slack webhook URL) are held in ``Secret``, whose ``repr`` and
``str`` hide the value, and are registered with ``redact``. The log records of the
HTTP libraries (httpx logs every URL at INFO) and of the provider modules pass through
``RedactingFilter``, and every error message is redacted before it is raised.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from spectral_deploy.errors import (
    ConfigError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from spectral_deploy.redaction import (
    REDACTED,
    RedactingFilter,
    redact,
    register_secret,
    register_url_password,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "IDEMPOTENT_METHODS",
    "ApiClient",
    "ApiResponse",
    "RedactingFilter",
    "RetryPolicy",
    "RetryingTransport",
    "Secret",
    "error_class",
    "install_redaction",
    "parse_retry_after",
    "redact",
    "register_secret",
    "retry_delay",
    "secret_from_env",
    "vendor_message",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# every PATCH and PUT we send sets absolute values, so repeating one is harmless
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
VENDOR_MESSAGE_CHARS = 300


# --- secrets ------------------------------------------------------------------------------


class Secret:
    """A token or secret URL: ``reveal()`` gives it; ``repr``/``str`` never do."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)
        if "://" in value:
            register_url_password(value)

    def reveal(self) -> str:
        """The secret itself, for the one header or URL that needs it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def secret_from_env(name: str, *, purpose: str, environ: Mapping[str, str] | None = None) -> Secret:
    """The secret in environment variable ``name`` (ConfigError naming it when unset)."""
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        raise ConfigError(
            f"not set; {purpose}",
            key=name,
            source="environment",
            hint=f"export {name}=... (docs/providers.md lists what it needs)",
        )
    return Secret(value)


_FILTER = RedactingFilter()
# httpx logs each request's full URL (the Slack webhook URL is a secret) at INFO;
# the Cloudflare SDK logs request options at DEBUG
_LIBRARY_LOGGERS = ("httpx", "httpcore", "cloudflare")


def install_redaction(*logger_names: str) -> None:
    """Put the redacting filter on the HTTP libraries' loggers and on ``logger_names``."""
    for name in (*_LIBRARY_LOGGERS, *logger_names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


install_redaction(__name__)


# --- retries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is tried again."""

    attempts: int = 4
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 8.0
    # a vendor asking us to wait longer than this is reported, not waited for
    max_retry_after_seconds: float = 60.0

    def backoff(self, attempt: int, jitter: float) -> float:
        """Backoff after failed ``attempt`` (1-based): doubling, capped, times [0.5, 1) jitter."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + jitter / 2)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from ``now`` that a ``Retry-After`` header (seconds or HTTP date) asks for."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _rate_limit_reset(headers: Mapping[str, str], now: float) -> float | None:
    """GitHub's primary rate limit: 403/429 with ``x-ratelimit-remaining: 0`` until the reset."""
    if headers.get("x-ratelimit-remaining") != "0":
        return None
    try:
        reset = float(headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    return max(0.0, reset - now)


def retry_delay(
    policy: RetryPolicy,
    *,
    method: str,
    status: int,
    headers: Mapping[str, str],
    attempt: int,
    now: float,
    jitter: float,
) -> float | None:
    """Seconds to wait before trying again after ``attempt`` got ``status``; None: do not."""
    if attempt >= policy.attempts:
        return None
    asked = parse_retry_after(headers.get("retry-after"), now)
    if status == 403:  # a rate limit only when the vendor says so; otherwise a real refusal
        asked = asked if asked is not None else _rate_limit_reset(headers, now)
        if asked is None:
            return None
    elif status == 429:
        asked = asked if asked is not None else _rate_limit_reset(headers, now)
    elif status >= 500:
        if method.upper() not in IDEMPOTENT_METHODS:
            return None  # the vendor may have acted on it: repeating could act twice
    else:
        return None
    if asked is not None:
        return asked if asked <= policy.max_retry_after_seconds else None
    return policy.backoff(attempt, jitter)


class RetryingTransport(httpx.BaseTransport):
    """Wraps a transport; repeats what ``retry_delay`` says is worth repeating."""

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 1
        while True:
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError as exc:
                if not self._repeatable(request, exc) or attempt >= self.policy.attempts:
                    raise
                delay = self.policy.backoff(attempt, self._jitter())
                self._wait(request, attempt, delay, type(exc).__name__)
                attempt += 1
                continue
            delay_or_none = retry_delay(
                self.policy,
                method=request.method,
                status=response.status_code,
                headers=response.headers,
                attempt=attempt,
                now=time.time(),
                jitter=self._jitter(),
            )
            if delay_or_none is None:
                return response
            response.read()
            response.close()
            self._wait(request, attempt, delay_or_none, f"HTTP {response.status_code}")
            attempt += 1

    @staticmethod
    def _repeatable(request: httpx.Request, exc: httpx.TransportError) -> bool:
        # a refused connection never reached the vendor; anything later may have
        sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        return not sent or request.method.upper() in IDEMPOTENT_METHODS

    def _wait(self, request: httpx.Request, attempt: int, delay: float, why: str) -> None:
        # the host only: a path can hold a secret (the Slack webhook)
        log.info(
            "action=http.retry host=%s method=%s attempt=%d reason=%s wait_seconds=%.2f",
            request.url.host,
            request.method,
            attempt,
            why,
            delay,
        )
        self._sleep(delay)

    def close(self) -> None:
        self._inner.close()


# --- the client ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiResponse:
    """A successful (or explicitly allowed) answer, its JSON already parsed."""

    status: int
    headers: httpx.Headers
    data: Any


class _Bearer(httpx.Auth):
    """``Authorization: Bearer ...`` added per request, so no client object holds the header."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "_Bearer(***)"


def vendor_message(body: bytes | str) -> str | None:
    """The short human message inside a vendor's error body, if there is one.

    Render ``{"message"}``, GitHub ``{"message", "errors"}``, Sentry ``{"detail"}``,
    Cloudflare ``{"errors": [{"code", "message"}]}``, Slack plain text (``invalid_payload``).
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        if text.startswith("<"):  # an HTML error page says nothing useful in one line
            return None
        return _shorten(" ".join(text.split()))
    return _shorten(_message_of(data)) if _message_of(data) else None


def _message_of(data: Any) -> str:
    if isinstance(data, str):
        return data
    if not isinstance(data, dict):
        return ""
    parts: list[str] = []
    for key in ("message", "detail", "error_description", "error"):
        value = data.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
            break
    errors = data.get("errors")
    if isinstance(errors, list):
        for item in errors[:3]:
            if isinstance(item, dict):
                code, message = item.get("code"), item.get("message")
                if message:
                    parts.append(f"{message} (code {code})" if code is not None else str(message))
                elif item.get("field") and code:  # GitHub validation: {"field", "code"}
                    parts.append(f"{item['field']}: {code}")
            elif isinstance(item, str):
                parts.append(item)
    return "; ".join(parts)


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= VENDOR_MESSAGE_CHARS else text[: VENDOR_MESSAGE_CHARS - 3] + "..."


class ApiClient:
    """JSON over HTTP to one vendor, through ``RetryingTransport``.

    ``token`` is sent as a bearer token; ``token_env`` names where it came from, for
    the hint of a 401. ``transport`` replaces the network (tests); ``base_url`` points
    the client at another server (GitHub Enterprise, self-hosted Sentry, a local fake).
    """

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        token: Secret | None = None,
        token_env: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.token_env = token_env
        self.timeout = timeout
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=_Bearer(token) if token is not None else None,
            headers={"User-Agent": "spectral-deploy", **(headers or {})},
            timeout=timeout,
            transport=RetryingTransport(transport, policy=policy, sleep=sleep),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ApiClient(provider={self.provider!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Release the connections."""
        self._client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        allow: Iterable[int] = (),
        expect_json: bool = True,
    ) -> ApiResponse:
        """Send one request; non-2xx statuses not in ``allow`` raise ``ProviderError``."""
        started = time.monotonic()
        # None, not {}: httpx replaces the query of ``url`` (a next-page link) with params
        query = {k: v for k, v in (params or {}).items() if v is not None} or None
        try:
            response = self._client.request(method, url, json=json_body, params=query)
        except httpx.TimeoutException as exc:
            raise self.error(
                f"no answer within {self.timeout.read or 0:g} s ({type(exc).__name__})",
                operation=operation,
                kind=ProviderUnavailable,
            ) from exc
        except httpx.TransportError as exc:
            raise self.error(
                f"cannot reach the API: {exc}", operation=operation, kind=ProviderUnavailable
            ) from exc
        log.debug(
            "action=http.response provider=%s operation=%s status=%d seconds=%.3f",
            self.provider,
            operation,
            response.status_code,
            time.monotonic() - started,
        )
        if not response.is_success and response.status_code not in set(allow):
            raise self.status_error(response, operation=operation)
        data: Any = None
        if expect_json and response.content.strip() and response.status_code != 204:
            data = self._json(response, operation=operation)
        return ApiResponse(status=response.status_code, headers=response.headers, data=data)

    def get(self, url: str, *, operation: str, **options: Any) -> ApiResponse:
        """``request("GET", ...)``."""
        return self.request("GET", url, operation=operation, **options)

    def _json(self, response: httpx.Response, *, operation: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            start = " ".join(response.text[:60].split())
            raise self.error(
                f"malformed JSON in the response (starts with {start!r})",
                operation=operation,
                status=response.status_code,
            ) from exc

    def status_error(self, response: httpx.Response, *, operation: str) -> ProviderError:
        """The ``ProviderError`` for a non-2xx answer, with the vendor's message."""
        status = response.status_code
        message = vendor_message(response.content) or response.reason_phrase or "request failed"
        hint = None
        if status == 401:
            hint = f"check {self.token_env or 'the token'}: the vendor does not accept it"
        elif status == 403:
            hint = (
                f"{self.token_env or 'the token'} lacks a permission "
                "(docs/providers.md lists what it needs)"
            )
        elif status == 429:
            hint = "rate limited after every retry; wait a minute and run the command again"
        return self.error(
            message, operation=operation, status=status, hint=hint, kind=error_class(status)
        )

    def error(
        self,
        message: str,
        *,
        operation: str,
        status: int | None = None,
        hint: str | None = None,
        kind: type[ProviderError] = ProviderError,
    ) -> ProviderError:
        """A ``ProviderError`` (or the subclass ``kind``) of this provider, message redacted."""
        return kind(
            redact(message), provider=self.provider, operation=operation, status=status, hint=hint
        )


def error_class(status: int | None) -> type[ProviderError]:
    """The ``ProviderError`` subclass an HTTP status means: ours to fix (401, 403, 404), slow
    down (429), their outage (5xx), or a plain ``ProviderError`` for anything else."""
    if status in (401, 403, 404):
        return ProviderRejected
    if status == 429:
        return ProviderRateLimited
    if status is not None and status >= 500:
        return ProviderUnavailable
    return ProviderError
