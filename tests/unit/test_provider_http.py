"""The shared HTTP layer's pure parts: retry decisions, Retry-After, vendor messages, secrets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from spectral_deploy.errors import ConfigError
from spectral_deploy.providers.http import (
    RedactingFilter,
    RetryPolicy,
    Secret,
    parse_retry_after,
    redact,
    retry_delay,
    secret_from_env,
    vendor_message,
)

POLICY = RetryPolicy(attempts=4, backoff_base_seconds=1.0, backoff_max_seconds=5.0)
NOW = 1_700_000_000.0


def delay(method: str, status: int, headers: dict[str, str] | None = None, attempt: int = 1):
    return retry_delay(
        POLICY,
        method=method,
        status=status,
        headers=headers or {},
        attempt=attempt,
        now=NOW,
        jitter=1.0,
    )


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
def test_429_is_retried_for_every_method_after_retry_after(method: str) -> None:
    """A 429 was not acted on, so any method is retried, after the seconds it asks for."""
    assert delay(method, 429, {"retry-after": "7"}) == 7.0


def test_429_without_retry_after_backs_off() -> None:
    """No Retry-After: exponential backoff (1 s, 2 s, 4 s, capped at 5 s)."""
    assert [delay("GET", 429, attempt=n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    capped = RetryPolicy(attempts=9, backoff_base_seconds=1.0, backoff_max_seconds=5.0)
    assert capped.backoff(6, 1.0) == 5.0


def test_jitter_keeps_backoff_between_half_and_full() -> None:
    """Full jitter: the wait is within [ceiling/2, ceiling]."""
    assert POLICY.backoff(2, 0.0) == 1.0
    assert POLICY.backoff(2, 1.0) == 2.0


def test_5xx_is_retried_only_for_methods_safe_to_repeat() -> None:
    """A 502 on GET/PUT/PATCH is retried; on POST it is not (the vendor may have acted)."""
    assert delay("GET", 502) == 1.0
    assert delay("PUT", 500) == 1.0
    assert delay("POST", 502) is None
    assert delay("POST", 503) is None


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    """4xx other than 429 (and rate-limit 403) are final."""
    assert delay("GET", status) is None


def test_403_is_retried_only_as_a_rate_limit() -> None:
    """A 403 with x-ratelimit-remaining 0 (GitHub) waits until the reset; a plain 403 fails."""
    assert delay("GET", 403) is None
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)}
    assert delay("GET", 403, reset) == 30.0


def test_attempts_are_bounded() -> None:
    """After the last attempt nothing is retried, whatever the status."""
    assert delay("GET", 429, {"retry-after": "1"}, attempt=4) is None
    assert delay("GET", 503, attempt=4) is None


def test_a_retry_after_longer_than_the_limit_is_not_waited_for() -> None:
    """Retry-After beyond max_retry_after_seconds gives up instead of hanging."""
    assert delay("GET", 429, {"retry-after": "3600"}) is None


def test_retry_after_as_an_http_date() -> None:
    """Retry-After may be an HTTP date: the wait is the time until then."""
    when = format_datetime(datetime.fromtimestamp(NOW + 12, UTC), usegmt=True)
    assert parse_retry_after(when, NOW) == pytest.approx(12.0)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-3", NOW) == 0.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"id": "x", "message": "service not found"}', "service not found"),  # Render
        (
            b'{"message": "Validation Failed", "errors": [{"field": "ref", "code": "invalid"}]}',
            "Validation Failed; ref: invalid",
        ),  # GitHub
        (b'{"detail": "Invalid token"}', "Invalid token"),  # Sentry
        (
            b'{"success": false, "errors": [{"code": 10000, "message": "Authentication error"}]}',
            "Authentication error (code 10000)",
        ),  # Cloudflare
        (b"invalid_payload", "invalid_payload"),  # Slack
        (b"<html><body>Bad gateway</body></html>", None),
        (b"", None),
    ],
)
def test_vendor_message(body: bytes, message: str | None) -> None:
    """Each vendor's error body yields its short message."""
    assert vendor_message(body) == message


def test_vendor_message_is_shortened() -> None:
    """A long message is cut to one readable line."""
    assert len(vendor_message(b"x" * 5000) or "") == 300


def test_secret_hides_its_value() -> None:
    """repr and str of a Secret never show the value; reveal() does."""
    secret = Secret("tok-abcdef123456")
    assert "abcdef" not in repr(secret) and "abcdef" not in str(secret)
    assert "abcdef" not in repr([secret]) and "abcdef" not in f"{secret}"
    assert secret.reveal() == "tok-abcdef123456"


def test_redact_replaces_registered_secrets() -> None:
    """Every registered secret is replaced wherever it appears."""
    Secret("tok-0123456789redact")
    assert redact("header Bearer tok-0123456789redact sent") == "header Bearer *** sent"


def test_redacting_filter_rewrites_the_record() -> None:
    """A log record whose rendered message holds a secret is rewritten before any handler."""
    Secret("tok-logfilter-987654")
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "POST %s", ("x/tok-logfilter-987654",), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "POST x/***"


def test_missing_secret_names_the_variable() -> None:
    """An unset token is a config error naming the environment variable, exit 2."""
    with pytest.raises(ConfigError) as caught:
        secret_from_env("RENDER_API_KEY", purpose="a Render API key", environ={})
    assert "RENDER_API_KEY" in str(caught.value)
    assert caught.value.exit_code == 2
