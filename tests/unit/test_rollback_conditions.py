"""Class 5 only on confirmed conditions: which failures are outages, and which are errors to fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from spectral_deploy.errors import (
    ConfigError,
    DatabaseUnreachable,
    PreconditionFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SchemaNotInstalled,
    SpectralError,
)
from spectral_deploy.rollback.classify import Facts, Symptom, classify
from spectral_deploy.rollback.conditions import (
    DATABASE_ATTEMPTS,
    PROVIDER_READS,
    database_down,
    database_refusal,
    provider_down,
    provider_refusal,
)

UNANSWERED = DatabaseUnreachable(
    "cannot reach PostgreSQL at db.example.test:5432/app: connection refused"
)
TIMED_OUT = DatabaseUnreachable("cannot reach PostgreSQL at db.example.test:5432/app: timeout")
WRONG_PASSWORD = DatabaseUnreachable(
    "cannot reach PostgreSQL at db.example.test:5432/app: FATAL:  password authentication failed "
    'for user "deploy"'
)
NO_DATABASE = DatabaseUnreachable(
    'cannot reach PostgreSQL at db.example.test:5432/app: FATAL:  database "app" does not exist'
)


def vendor(
    kind: type[ProviderError], status: int | None, provider: str = "render"
) -> ProviderError:
    return kind("failed", provider=provider, operation="read service", status=status)


BASE = Facts(
    cutover_completed=True,
    blue_warm=True,
    symptom=Symptom.BEHAVIOR,
    from_generation=7,
    to_generation=8,
    tag="v1.8.0",
    prior_commit="abc123",
)


def facts_after(
    database_failures: list[SpectralError], provider_failures: list[SpectralError]
) -> Facts:
    """The facts the gatherer derives from what failed (the conditions, then the classifier)."""
    return replace(
        BASE,
        database_healthy=not database_down(database_failures),
        provider_outage=provider_down(provider_failures),
    )


def test_the_database_is_down_only_after_every_attempt_went_unanswered() -> None:
    """Class 5 for the database: DATABASE_ATTEMPTS attempts, none answered."""
    assert DATABASE_ATTEMPTS >= 2
    gone = facts_after([UNANSWERED, TIMED_OUT, UNANSWERED][:DATABASE_ATTEMPTS], [])
    assert classify(gone).failure_class == 5
    assert "database does not answer" in classify(gone).reasons[0]
    for fewer in range(DATABASE_ATTEMPTS):
        flaky = facts_after([UNANSWERED] * fewer, [])
        assert classify(flaky).failure_class == 2, fewer


def test_a_database_that_refuses_us_is_a_config_error_naming_database_url() -> None:
    """A wrong password or a missing database is exit 2 naming DATABASE_URL, never Class 5."""
    for refused in (WRONG_PASSWORD, NO_DATABASE):
        assert not database_down([refused] * DATABASE_ATTEMPTS)
        error = database_refusal(refused)
        assert isinstance(error, ConfigError) and error.exit_code == 2
        assert "DATABASE_URL" in error.message and "not an outage" in error.message
    assert database_refusal(UNANSWERED) is None
    schema = SchemaNotInstalled("spectral's schema is not installed")
    assert database_refusal(schema) is schema and schema.exit_code == 3


def test_a_provider_is_down_only_after_repeated_5xx_or_timeouts() -> None:
    """Class 5 for a provider: PROVIDER_READS reads, each a 5xx, a timeout or no connection."""
    outage = vendor(ProviderUnavailable, 503)
    timeout = vendor(ProviderUnavailable, None)
    assert PROVIDER_READS >= 2
    down = facts_after([], [outage, timeout][:PROVIDER_READS])
    assert classify(down).failure_class == 5
    assert "provider the cutover relies on is down" in classify(down).reasons[0]
    once = facts_after([], [outage])
    assert classify(once).failure_class == 2
    mixed = [outage] * (PROVIDER_READS - 1) + [vendor(ProviderRejected, 401)]
    assert not provider_down(mixed)


@pytest.mark.parametrize(
    ("status", "provider", "setting"),
    [
        (401, "render", "RENDER_API_KEY"),
        (403, "cloudflare", "CLOUDFLARE_API_TOKEN"),
        (404, "render", "[hosting] blue_service_id"),
        (404, "cloudflare", "[dns] zone_id"),
    ],
)
def test_401_403_404_are_config_errors_naming_the_setting(
    status: int, provider: str, setting: str
) -> None:
    """A refusal is exit 2 naming the token's variable or the config key; never an outage."""
    refused = vendor(ProviderRejected, status, provider)
    assert not provider_down([refused] * PROVIDER_READS)
    error = provider_refusal(refused)
    assert isinstance(error, ConfigError) and error.exit_code == 2
    assert setting in error.message
    assert "not an outage" in error.message
    assert "outage" not in error.message.replace("not an outage", "")


@pytest.mark.parametrize(
    "failure",
    [vendor(ProviderRateLimited, 429), vendor(ProviderError, 400), vendor(ProviderError, None)],
)
def test_429_and_unexpected_answers_are_reported_as_they_are(failure: ProviderError) -> None:
    """A rate limit or an odd answer is exit 3 saying it is not an outage; never Class 5."""
    assert not provider_down([failure] * PROVIDER_READS)
    error = provider_refusal(failure)
    assert isinstance(error, PreconditionFailed) and error.exit_code == 3
    assert "not an outage" in error.message or "does not show an outage" in error.message
    assert provider_refusal(vendor(ProviderUnavailable, 502)) is None


def test_prior_code_that_can_be_rebuilt_is_no_disaster() -> None:
    """Class 3 needs the prior code: Class 5 only when it cannot be built at all."""
    data = replace(BASE, symptom=Symptom.DATA)
    assert classify(replace(data, prior_build_available=True)).failure_class == 3
    gone = classify(replace(data, prior_build_available=False))
    assert gone.failure_class == 5
    assert any("cannot be rebuilt" in reason for reason in gone.reasons)
