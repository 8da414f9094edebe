"""Fixtures for the vendor providers: each fake vendor API started on 127.0.0.1 per test.

The tokens are random per session and distinctive, so a test can grep everything the
code printed or logged for them. Retries wait through ``recorded_sleep``, which records
the waits instead of sleeping, so a 429 with ``Retry-After: 7`` costs no time.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from spectral_deploy.providers.http import RetryPolicy
from tests.providers.fakes import FakeCloudflare, FakeGitHub, FakeRender, FakeSentry, FakeSlack

TOKENS = {
    "cloudflare": f"cf-tok-{secrets.token_hex(16)}",
    "render": f"rnd_{secrets.token_hex(16)}",
    "github": f"github_pat_{secrets.token_hex(16)}",
    "sentry": f"sntrys_{secrets.token_hex(16)}",
    "slack": f"slackhook{secrets.token_hex(12)}",
}
FAST_RETRIES = RetryPolicy(attempts=4, backoff_base_seconds=0.001, backoff_max_seconds=0.01)


class RecordedSleep:
    """A ``sleep`` that records how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def recorded_sleep() -> RecordedSleep:
    """Waits asked for by retries and polls, without waiting."""
    return RecordedSleep()


@pytest.fixture
def fake_cloudflare() -> Iterator[FakeCloudflare]:
    """Cloudflare's DNS records API with the test token."""
    with FakeCloudflare(TOKENS["cloudflare"]) as fake:
        yield fake


@pytest.fixture
def fake_render() -> Iterator[FakeRender]:
    """Render's API with the test key."""
    with FakeRender(TOKENS["render"]) as fake:
        yield fake


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """GitHub's API for acme/shop with the test token."""
    with FakeGitHub(TOKENS["github"]) as fake:
        yield fake


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A Slack incoming webhook whose secret part is the test secret."""
    with FakeSlack(TOKENS["slack"]) as fake:
        yield fake


@pytest.fixture
def fake_sentry() -> Iterator[FakeSentry]:
    """Sentry's API for acme/shop with the test token."""
    with FakeSentry(TOKENS["sentry"]) as fake:
        yield fake
