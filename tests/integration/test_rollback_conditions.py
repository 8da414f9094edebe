"""The planner on the fake world and the real PostgreSQL: Class 5 only on confirmed conditions
(an outage confirmed by repeated reads is Class 5; a refusal is an error); the facts read the
database and providers passed in; the rollback tag avoids the tags the injected VCS holds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from spectral_deploy.db import Database, open_database
from spectral_deploy.errors import ConfigError, ProviderUnavailable
from spectral_deploy.rollback.classify import Symptom
from spectral_deploy.rollback.conditions import (
    DATABASE_ATTEMPTS,
    PROVIDER_READS,
    PROVIDER_RETRY_SECONDS,
)
from spectral_deploy.rollback.facts import FactProviders, FactSources, Gathered
from spectral_deploy.rollback.plan import Plan, StepId
from spectral_deploy.rollback.planner import plan_rollback, sources_of
from tests.integration.fakeworld import Operator


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 live on blue, v2.0.0 cut over to green (generation 2)."""
    with Operator.deployed(tmp_path, database, "v1.0.0", "v2.0.0") as operator:
        yield operator


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


def test_the_rollback_tag_skips_a_tag_the_vcs_already_holds(operator: Operator) -> None:
    """Class 3 with ``v2.0.0-rollback`` taken in the repository: the plan tags
    ``v2.0.0-rollback.2``, read through the deployer's VCS (no tag list passed in)."""
    vcs = operator.world.vcs
    vcs.create_tag("v2.0.0-rollback", vcs.resolve_tag("v1.0.0"), "an earlier rollback")
    _, plan = plan_rollback(
        operator.config, symptom=Symptom.DATA, sources=sources_of(operator.deployer())
    )
    assert plan.failure_class == 3, plan.reasons
    tagging = [step for step in plan.steps if step.id is StepId.TAG_PRIOR]
    assert tagging and tagging[0].params["tag"] == "v2.0.0-rollback.2"


def test_tags_unreadable_are_a_note_not_a_guess(operator: Operator) -> None:
    """A VCS that cannot list its tags: the plan still stands, and says the tag may exist."""

    class Unlisted:
        def tag_names(self) -> list[str]:
            raise ProviderUnavailable("down", provider="fake", operation="tags", status=503)

    sources = sources_of(operator.deployer())
    gathered, plan = plan_rollback(
        operator.config,
        symptom=Symptom.DATA,
        sources=replace(sources, vcs=Unlisted()),  # type: ignore[arg-type]
    )
    assert any(step.id is StepId.TAG_PRIOR for step in plan.steps)
    assert any("tags cannot be listed" in note for note in gathered.notes), gathered.notes


def test_the_facts_use_the_database_and_providers_passed_in(operator: Operator) -> None:
    """The facts open nothing themselves: the caller's opener gives the database, and the
    providers are built by the caller's builder, once, for that database."""
    given = sources_of(operator.deployer())
    opened: list[Database] = []
    built: list[Database] = []

    def opener() -> Database:
        opened.append(operator.database)
        return operator.database

    def builder(database: Database) -> FactProviders:
        built.append(database)
        assert isinstance(given.providers, FactProviders)
        return given.providers

    sources = FactSources(database=opener, providers=builder, vcs=given.vcs, sleep=given.sleep)
    gathered, plan = plan_rollback(operator.config, symptom=Symptom.BEHAVIOR, sources=sources)
    assert plan.failure_class == 2, plan.reasons
    assert opened == [operator.database] and built == [operator.database]
    assert gathered.database is operator.database
