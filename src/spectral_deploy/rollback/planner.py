"""From a symptom to a plan: gather the facts (observed), classify them, build the steps.

``rollback plan`` and ``rollback run`` both go through ``plan_rollback``; the providers and
the database come in with ``FactSources`` (``sources_of(deployer)`` takes a deployer's), so
the same code plans against the real providers and the in-process fakes.
"""

from __future__ import annotations

from pathlib import Path

from spectral_deploy.config import Config
from spectral_deploy.cutover.orchestrator import Deployer
from spectral_deploy.errors import UsageError
from spectral_deploy.rollback.classify import Symptom, classify
from spectral_deploy.rollback.facts import FactSources, Gathered, gather
from spectral_deploy.rollback.plan import Plan, PlanContext, make_plan

__all__ = ["parse_symptom", "plan_rollback", "sources_of"]


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
        hosting=deployer.hosting,
        dns=deployer.dns,
        source=deployer.source,
        probe=deployer.probe,
        sleep=deployer.clock.sleep,
    )


def plan_rollback(
    config: Config,
    *,
    symptom: Symptom | None,
    deploy_id: int | None = None,
    facts_file: Path | None = None,
    sources: FactSources | None = None,
    existing_tags: frozenset[str] = frozenset(),
) -> tuple[Gathered, Plan]:
    """The facts and the plan for them."""
    gathered = gather(
        config, symptom=symptom, deploy_id=deploy_id, facts_file=facts_file, sources=sources
    )
    classification = classify(gathered.facts)
    found = gathered.deploy
    context = PlanContext(
        blue_target=config.dns.target_of(found.blue) if found else config.dns.blue_target,
        green_slot=str(found.green) if found else "green",
        existing_tags=existing_tags,
    )
    return gathered, make_plan(classification, gathered.facts, context)
