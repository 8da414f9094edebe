"""From a symptom to a plan: gather the facts (observed), classify them, build the steps.

``rollback plan``, ``rollback run`` and the sandbox's demo all go through ``plan_rollback``;
the providers and the database come in with ``FactSources`` (``sources_of(deployer)`` takes a
deployer's), so the same code plans against the real providers and the in-process fakes. The
tags a rollback tag must not take are read through the same VCS, when the plan tags anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from spectral_deploy import providers
from spectral_deploy.config import Config
from spectral_deploy.cutover.orchestrator import Deployer
from spectral_deploy.db import Database, open_database
from spectral_deploy.errors import SpectralError, UsageError
from spectral_deploy.providers.base import VcsProvider
from spectral_deploy.rollback.classify import Symptom, classify
from spectral_deploy.rollback.facts import FactProviders, FactSources, Gathered, gather
from spectral_deploy.rollback.plan import Plan, PlanContext, StepId, make_plan

__all__ = ["parse_symptom", "plan_rollback", "sources_from_config", "sources_of"]


def parse_symptom(text: str | None) -> Symptom | None:
    """``--symptom`` as given (None: none given)."""
    if text is None:
        return None
    try:
        return Symptom(text)
    except ValueError:
        raise UsageError(
            f"--symptom must be one of {', '.join(s.value for s in Symptom)}, got {text!r}"
        ) from None


def sources_of(deployer: Deployer) -> FactSources:
    """The deployer's database and providers, as fact sources."""
    return FactSources(
        database=deployer.database,
        providers=FactProviders(
            hosting=deployer.hosting,
            dns=deployer.dns,
            source=deployer.source,
            probe=deployer.probe,
        ),
        vcs=deployer.vcs,
        sleep=deployer.clock.sleep,
    )


def sources_from_config(
    config: Config, database: Callable[[], Database] | None = None
) -> FactSources:
    """Fact sources built from the configuration, for a caller without a deployer: the
    database opened by ``database()`` (default: ``open_database(config)``) on each attempt,
    the providers built once, when it answers."""

    def built(database: Database) -> FactProviders:
        return FactProviders(
            hosting=providers.hosting_provider(config, database.app_url),
            dns=providers.dns_provider(config),
            source=providers.source_tree(config),
            probe=providers.public_probe(config),
        )

    opener = database or (lambda: open_database(config))
    return FactSources(database=opener, providers=built)


def plan_rollback(
    config: Config,
    *,
    symptom: Symptom | None,
    deploy_id: int | None = None,
    facts_file: Path | None = None,
    sources: FactSources | None = None,
    existing_tags: frozenset[str] | None = None,
) -> tuple[Gathered, Plan]:
    """The facts and the plan for them (``sources`` None: built from the configuration,
    ``sources_from_config``). ``existing_tags`` None: a plan that tags the prior
    code reads the repository's tags through ``sources.vcs`` (else the configured VCS)."""
    sources = sources or sources_from_config(config)
    gathered = gather(
        config, symptom=symptom, deploy_id=deploy_id, facts_file=facts_file, sources=sources
    )
    classification = classify(gathered.facts)
    found = gathered.deploy
    context = PlanContext(
        blue_target=config.dns.target_of(found.blue) if found else config.dns.blue_target,
        green_slot=str(found.green) if found else "green",
        existing_tags=existing_tags or frozenset(),
    )
    plan = make_plan(classification, gathered.facts, context)
    if existing_tags is None and any(step.id is StepId.TAG_PRIOR for step in plan.steps):
        tags, note = _tags(config, sources.vcs)
        plan = make_plan(classification, gathered.facts, replace(context, existing_tags=tags))
        if note:
            gathered = replace(gathered, notes=(*gathered.notes, note))
    return gathered, plan


def _tags(config: Config, vcs: VcsProvider | None) -> tuple[frozenset[str], str | None]:
    """The repository's tags, and a note when they cannot be listed (the tag step itself
    refuses a tag that exists at another commit)."""
    try:
        return frozenset((vcs or providers.vcs_provider(config)).tag_names()), None
    except SpectralError as exc:
        return frozenset(), (
            f"the repository's tags cannot be listed ({exc.message}): the rollback tag may "
            "already exist"
        )
