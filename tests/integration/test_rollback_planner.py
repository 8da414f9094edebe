"""The one plan assembly (``plan_rollback``) on the fake world and the real PostgreSQL: the
rollback tag is chosen among the tags the injected VCS holds, read only when the plan tags."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from spectral_deploy.db import Database
from spectral_deploy.errors import ProviderUnavailable
from spectral_deploy.rollback.classify import Symptom
from spectral_deploy.rollback.facts import FactProviders, FactSources
from spectral_deploy.rollback.plan import StepId
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
