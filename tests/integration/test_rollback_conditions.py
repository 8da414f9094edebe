"""Class 5 only on confirmed conditions, through the planner on the fake world and the real
PostgreSQL: an outage confirmed by repeated reads is Class 5; a refusal is an error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from spectral_deploy.db import Database, open_database
from spectral_deploy.errors import ConfigError
from spectral_deploy.rollback.classify import Symptom
from spectral_deploy.rollback.conditions import (
    DATABASE_ATTEMPTS,
    PROVIDER_READS,
    PROVIDER_RETRY_SECONDS,
)
from spectral_deploy.rollback.facts import Gathered
from spectral_deploy.rollback.plan import Plan
from spectral_deploy.rollback.planner import plan_rollback, sources_of
from tests.integration.fakeworld import Operator


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 live on blue, v2.0.0 cut over to green (generation 2)."""
    operator = Operator.start(tmp_path, database)
    operator.deploy("v1.0.0")
    operator.deploy("v2.0.0")
    try:
        yield operator
    finally:
        operator.world.close()


def plan(operator: Operator, sleeps: list[float], **overrides: object) -> tuple[Gathered, Plan]:
    sources = replace(sources_of(operator.deployer()), sleep=sleeps.append, **overrides)
    return plan_rollback(
        operator.config,
        symptom=Symptom.BEHAVIOR,
        sources=sources,
        existing_tags=frozenset(operator.world.vcs.tags),
    )


def test_a_dns_provider_down_on_every_read_is_class_5(operator: Operator) -> None:
    """Repeated 5xx: the outage is confirmed after PROVIDER_READS reads, then Class 5."""
    operator.world.failing.add("dns.read")
    sleeps: list[float] = []
    gathered, chosen = plan(operator, sleeps)
    assert chosen.failure_class == 5, chosen.reasons
    assert gathered.facts.provider_outage
    assert sleeps == [PROVIDER_RETRY_SECONDS] * (PROVIDER_READS - 1)
    assert any(f"read {PROVIDER_READS} times" in note for note in gathered.notes)


def test_one_failed_read_is_no_outage(operator: Operator) -> None:
    """A provider that fails once and answers on the next read: the plan is Class 2."""
    operator.world.failing.add("dns.read")
    recovered: list[float] = []

    def recover(seconds: float) -> None:
        recovered.append(seconds)
        operator.world.failing.discard("dns.read")

    gathered, chosen = plan_rollback(
        operator.config,
        symptom=Symptom.BEHAVIOR,
        sources=replace(sources_of(operator.deployer()), sleep=recover),
        existing_tags=frozenset(operator.world.vcs.tags),
    )
    assert recovered == [PROVIDER_RETRY_SECONDS]
    assert chosen.failure_class == 2, chosen.reasons
    assert not gathered.facts.provider_outage


@pytest.mark.parametrize(
    ("operation", "status"),
    [("dns.read", 401), ("hosting.current", 403), ("hosting.build_available", 404)],
)
def test_a_refusal_is_a_config_error_never_an_outage(
    operator: Operator, operation: str, status: int
) -> None:
    """401/403/404 from any read: exit 2 naming the setting, no plan, no Class 5."""
    operator.world.refusing[operation] = status
    with pytest.raises(ConfigError) as caught:
        plan(operator, [])
    assert caught.value.exit_code == 2
    assert f"HTTP {status}" in caught.value.message
    assert "not an outage" in caught.value.message


def test_a_missing_database_is_a_config_error_naming_database_url(operator: Operator) -> None:
    """The server answers that the database does not exist: exit 2, not a disaster."""
    url = make_conninfo(operator.database.url, dbname="no_such_database_here")
    config = replace(operator.config, database=replace(operator.config.database, url=url))
    sources = replace(sources_of(operator.deployer()), database=lambda: open_database(config))
    with pytest.raises(ConfigError, match="DATABASE_URL") as caught:
        plan_rollback(config, symptom=Symptom.BEHAVIOR, sources=sources)
    assert "not an outage" in caught.value.message


def test_a_database_unanswered_on_every_attempt_is_class_5(operator: Operator) -> None:
    """Connection refused DATABASE_ATTEMPTS times (with pauses): confirmed gone, Class 5."""
    url = "postgresql://deploy@127.0.0.1:9/app"
    config = replace(operator.config, database=replace(operator.config.database, url=url))
    sleeps: list[float] = []
    sources = replace(
        sources_of(operator.deployer()),
        database=lambda: open_database(config),
        sleep=sleeps.append,
    )
    gathered, chosen = plan_rollback(config, symptom=Symptom.BEHAVIOR, sources=sources)
    assert chosen.failure_class == 5
    assert not gathered.facts.database_healthy
    assert len(sleeps) == DATABASE_ATTEMPTS - 1
    assert any(f"({DATABASE_ATTEMPTS} attempts)" in note for note in gathered.notes)
